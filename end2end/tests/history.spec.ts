import { expect, test } from "@playwright/test";
import { createViaRest, openHydrated, row, uniqueName } from "./helpers";

test("an item edited twice shows both changes in its history, and reverting brings the first back", async ({ page, request }) => {
  const name = uniqueName("Lamp");
  const item = await createViaRest(request, { name, description: "Brass", category: "Lighting", price: 20 });
  for (const change of [{ price: 25 }, { price: 30, description: "Copper" }]) {
    const patched = await request.patch(`/items/${item.id}`, {
      data: change,
      headers: { "content-type": "application/merge-patch+json" },
    });
    expect(patched.status()).toBe(200);
  }
  await openHydrated(page, `/?q=${encodeURIComponent(name)}`);
  await row(page, name).getByRole("link", { name: `History of ${name}` }).click();
  await expect(page).toHaveURL(new RegExp(`/history\\?item=${item.id}$`));
  await expect(page.getByRole("heading", { name: `“${name}” (item ${item.id})` })).toBeVisible();

  const revisions = page.locator("li.revision");
  await expect(revisions).toHaveCount(3);
  const newest = revisions.nth(0);
  await expect(newest).toContainText("Updated");
  await expect(newest.locator("table.diff tbody tr")).toHaveText([/description\s*Brass\s*Copper/, /price\s*25\s*30/]);
  await expect(revisions.nth(2)).toContainText("Created");
  // The newest is the item as it is: nothing to revert to there.
  await expect(newest.getByRole("button", { name: "Revert to this" })).toHaveCount(0);
  for (const [width, height] of [[1280, 720], [390, 844]]) {
    await page.setViewportSize({ width, height });
    for (const scheme of ["light", "dark"] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.screenshot({ path: `test-results/history-${width}-${scheme}.png`, fullPage: true });
    }
  }
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.emulateMedia({ colorScheme: "light" });

  await revisions.nth(2).getByRole("button", { name: "Revert to this" }).click();
  await expect(revisions).toHaveCount(4);
  await expect(revisions.nth(0)).toContainText("Reverted to version 1");
  await expect(revisions.nth(0).locator("table.diff tbody tr")).toHaveText([/description\s*Copper\s*Brass/, /price\s*30\s*20/]);
  const stored = await (await request.get(`/items/${item.id}`)).json();
  expect(stored).toMatchObject({ description: "Brass", price: 20, version: 4 });

  await page.getByRole("link", { name: "Back to items" }).click();
  await expect(page).toHaveURL(/\/$/);
});
