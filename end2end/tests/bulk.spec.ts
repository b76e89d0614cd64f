import { expect, test } from "@playwright/test";
import { createViaRest, openHydrated, row, uniqueName } from "./helpers";

type Item = { id: number; name: string; category: string | null; price: number | null };

test("ticked rows get a category at once, and a bulk delete can be undone", async ({ page, request }) => {
  const prefix = uniqueName("Shelf");
  const names = [`${prefix} oak`, `${prefix} pine`, `${prefix} birch`];
  const items: Item[] = [];
  for (const name of names) items.push(await createViaRest(request, { name, category: "Before", price: 4 }));
  await openHydrated(page, `/?q=${encodeURIComponent(prefix)}`);

  await row(page, names[0]).getByRole("checkbox", { name: `Select ${names[0]}` }).check();
  await row(page, names[1]).getByRole("checkbox", { name: `Select ${names[1]}` }).check();
  const bar = page.getByRole("region", { name: "Selected items" });
  await expect(bar.getByRole("status").first()).toHaveText("2 selected");
  for (const [width, height] of [[1280, 720], [390, 844]]) {
    await page.setViewportSize({ width, height });
    for (const scheme of ["light", "dark"] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.screenshot({ path: `test-results/bulk-${width}-${scheme}.png` });
    }
  }
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.emulateMedia({ colorScheme: "light" });

  // The ticked rows as a file, made in the browser.
  const href = (await bar.getByRole("link", { name: "Export selected" }).getAttribute("href"))!;
  expect(href.startsWith("data:text/csv;charset=utf-8,")).toBe(true);
  expect(decodeURIComponent(href.slice(href.indexOf(",") + 1))).toBe(
    "id,name,description,category,price\r\n" +
      `${items[0].id},${names[0]},,Before,4\r\n${items[1].id},${names[1]},,Before,4\r\n`,
  );

  await bar.getByRole("button", { name: "Set category…" }).click();
  await bar.getByLabel("New category (empty: none)").fill("After");
  await page.screenshot({ path: "test-results/bulk-set-category.png" });
  await bar.getByRole("button", { name: "Apply" }).click();
  await expect(bar.getByText("Changed 2 items.")).toBeVisible();
  await expect(row(page, names[0])).toContainText("After");
  await expect(row(page, names[2])).toContainText("Before");
  for (const [n, category] of [[0, "After"], [1, "After"], [2, "Before"]] as const) {
    const stored = await (await request.get(`/items/${items[n].id}`)).json();
    expect(stored.category).toBe(category);
  }
  const history = await (await request.get(`/items/${items[0].id}/history`)).json();
  expect(history.revisions[0]).toMatchObject({ action: "update", door: "bulk" });

  // Every row of the page, deleted at once, then brought back.
  await page.getByRole("checkbox", { name: "Select every item on this page" }).check();
  await expect(bar.getByRole("status").first()).toHaveText("3 selected");
  await bar.getByRole("button", { name: "Delete" }).click();
  await expect(bar.getByText("Deleted 3 items.")).toBeVisible();
  for (const name of names) await expect(row(page, name)).toHaveCount(0);
  await bar.getByRole("button", { name: "Undo" }).click();
  await expect(bar.getByText("Restored 3 items.")).toBeVisible();
  for (const name of names) await expect(row(page, name)).toHaveCount(1);
  for (const item of items) expect((await request.get(`/items/${item.id}`)).status()).toBe(200);
});

test("every item matching the search, past this page, gets a price at once", async ({ page, request }) => {
  const prefix = uniqueName("Peg");
  for (let n = 0; n < 12; n++) await createViaRest(request, { name: `${prefix} ${n}`, price: 1 });
  await openHydrated(page, `/?q=${encodeURIComponent(prefix)}`);

  await page.getByRole("checkbox", { name: "Select every item on this page" }).check();
  const bar = page.getByRole("region", { name: "Selected items" });
  await expect(bar.getByRole("status").first()).toHaveText("10 selected");
  await bar.getByRole("button", { name: "Select all 12 matching" }).click();
  await expect(bar.getByRole("status").first()).toHaveText("All 12 matching items selected");
  await bar.getByRole("button", { name: "Set price…" }).click();
  await bar.getByLabel("New price (empty: none)").fill("abc");
  await bar.getByRole("button", { name: "Apply" }).click();
  await expect(bar.getByRole("alert")).toHaveText("Enter a price as a number, like 12.50.");
  await bar.getByLabel("New price (empty: none)").fill("5.25");
  await bar.getByRole("button", { name: "Apply" }).click();
  await expect(bar.getByText("Changed 12 items.")).toBeVisible();

  const found = await (await request.get(`/search/?q=${encodeURIComponent(prefix)}&limit=100`)).json();
  expect(found.total).toBe(12);
  expect(found.items.map((i: Item) => i.price)).toEqual(Array(12).fill(5.25));
});
