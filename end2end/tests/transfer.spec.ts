import { expect, test, type Page } from "@playwright/test";
import { readFileSync } from "node:fs";
import { countViaRest, openHydrated, row, search, uniqueName } from "./helpers";

/** The "Import items" panel. */
function importPanel(page: Page) {
  return page.getByRole("region", { name: "Import items" });
}

/** Opens the import panel (its code is fetched on the first open). */
async function openImport(page: Page) {
  await page.getByRole("button", { name: "Import", exact: true }).click();
  await expect(importPanel(page)).toBeVisible();
  return importPanel(page);
}

/** Chooses a file with this content in the panel. */
async function chooseFile(page: Page, name: string, mimeType: string, content: string) {
  await importPanel(page).getByLabel("File").setInputFiles({ name, mimeType, buffer: Buffer.from(content) });
}

test("a person imports a CSV file and the table shows its items", async ({ page, request }) => {
  const tag = uniqueName("Imported");
  await openHydrated(page);
  // A search that finds nothing yet: the import must fill it by itself.
  await search(page, tag);
  await expect(page.getByText("No items match these filters.")).toBeVisible();
  const toggle = page.getByRole("button", { name: "Import", exact: true });
  await expect(toggle).toHaveAttribute("aria-expanded", "false");
  const panel = await openImport(page);
  await expect(toggle).toHaveAttribute("aria-expanded", "true");
  await chooseFile(
    page,
    "items.csv",
    "text/csv",
    `name,description,category,price\r\n${tag} lamp,"Warm, soft light",Lighting,19.5\r\n${tag} desk,,Furniture,250\r\n`,
  );
  await panel.getByRole("button", { name: "Import file" }).click();
  await expect(panel.getByRole("status")).toHaveText("Imported 2 items.");
  expect(await countViaRest(request, tag)).toBe(2);

  // The table reloads by itself, with its search.
  await expect(row(page, `${tag} lamp`)).toBeVisible();
  await expect(row(page, `${tag} desk`)).toContainText("Furniture");
  await page.screenshot({ path: "test-results/import.png", fullPage: true });

  await panel.getByRole("button", { name: "Close" }).click();
  await expect(importPanel(page)).toHaveCount(0);
});

test("a file with a bad row imports nothing and says which line, unless bad rows are skipped", async ({ page, request }) => {
  const tag = uniqueName("Half good");
  await openHydrated(page);
  const panel = await openImport(page);
  const file = `{"name": "${tag} rug", "price": 60}\n{"name": "${tag} bad", "price": -1}\nnot json\n`;
  await chooseFile(page, "items.ndjson", "", file);
  await panel.getByRole("button", { name: "Import file" }).click();
  const alert = panel.getByRole("alert");
  await expect(alert).toContainText("Nothing was imported: the file has problems.");
  await expect(alert).toContainText("Line 2, price: Input should be greater than or equal to 0");
  await expect(alert).toContainText("Line 3: Invalid JSON");
  expect(await countViaRest(request, tag)).toBe(0);
  await page.screenshot({ path: "test-results/import-rejected.png", fullPage: true });

  await panel.getByLabel(/Skip bad rows/).check();
  await panel.getByRole("button", { name: "Import file" }).click();
  await expect(panel.getByRole("status")).toContainText("Imported 1 item; 2 rows were left out:");
  expect(await countViaRest(request, tag)).toBe(1);
});

test("Export CSV downloads every item the table shows, in its order", async ({ page, request }) => {
  const tag = uniqueName("Exported");
  for (const [name, price] of [["b", 2], ["a", 3], ["c", 1]] as const) {
    const response = await request.post("/items/", { data: { name: `${tag} ${name}`, price } });
    expect(response.status()).toBe(201);
  }
  await openHydrated(page, "/?sort=-price");
  await search(page, tag);
  const link = page.getByRole("link", { name: "Export CSV" });
  await expect(link).toHaveAttribute("href", new RegExp(`^/items/export\\?format=csv&q=.*&sort=-price$`));
  const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
  expect(download.suggestedFilename()).toBe("items.csv");
  const lines = readFileSync(await download.path(), "utf8").trimEnd().split("\r\n");
  expect(lines[0]).toBe("id,name,description,category,price");
  expect(lines.slice(1).map((line) => line.split(",")[1])).toEqual([`${tag} a`, `${tag} b`, `${tag} c`]);
  // Still on the page: the download did not navigate.
  await expect(page.getByRole("heading", { name: "Items", level: 1 })).toBeVisible();
});

for (const [width, height, scheme] of [
  [1280, 900, "light"],
  [390, 844, "dark"],
] as const) {
  test(`the import panel at ${width} px, ${scheme}`, async ({ page }) => {
    await page.setViewportSize({ width, height });
    await page.emulateMedia({ colorScheme: scheme });
    await openHydrated(page);
    const panel = await openImport(page);
    await chooseFile(page, "items.csv", "text/csv", "name,price\nx,-1\n");
    await panel.getByRole("button", { name: "Import file" }).click();
    await expect(panel.getByRole("alert")).toBeVisible();
    await page.screenshot({ path: `test-results/import-${width}-${scheme}.png`, fullPage: true });
  });
}
