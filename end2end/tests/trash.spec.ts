import { expect, test } from "@playwright/test";
import { createViaRest, openHydrated, row, uniqueName } from "./helpers";

test("a deleted item comes back with Undo", async ({ page, request }) => {
  const name = uniqueName("Regretted");
  const item = await createViaRest(request, { name, category: "Undo", price: 3.5 });
  await openHydrated(page, `/?q=${encodeURIComponent(name)}`);

  await row(page, name).getByRole("button", { name: `Delete ${name}` }).click();
  await row(page, name).getByRole("button", { name: "Yes, delete" }).click();
  await expect(row(page, name)).toHaveCount(0);
  const offer = page.getByRole("status").filter({ hasText: `Deleted “${name}”.` });
  await expect(offer).toBeVisible();
  await page.screenshot({ path: "test-results/undo-delete.png" });

  await offer.getByRole("button", { name: "Undo" }).click();
  await expect(row(page, name)).toHaveCount(1);
  await expect(offer).toHaveCount(0);
  const restored = await (await request.get(`/items/${item.id}`)).json();
  expect(restored).toMatchObject({ name, category: "Undo", price: 3.5, created_at: item.created_at });
  const history = await (await request.get(`/items/${item.id}/history`)).json();
  expect(history.revisions.map((r: { action: string; door: string }) => `${r.action}/${r.door}`)).toEqual([
    "restore/ui",
    "delete/ui",
    "create/rest",
  ]);
});

test("the offer to undo goes away by itself", async ({ page, request }) => {
  const name = uniqueName("Gone");
  await createViaRest(request, { name });
  await openHydrated(page, `/?q=${encodeURIComponent(name)}`);
  await row(page, name).getByRole("button", { name: `Delete ${name}` }).click();
  await row(page, name).getByRole("button", { name: "Yes, delete" }).click();
  const offer = page.getByRole("status").filter({ hasText: `Deleted “${name}”.` });
  await expect(offer).toBeVisible();
  await expect(offer).toHaveCount(0, { timeout: 15_000 });
});

test("the trash page lists deleted items and restores them", async ({ page, request }) => {
  const name = uniqueName("Binned");
  const item = await createViaRest(request, { name, category: "Trash", price: 12 });
  expect((await request.delete(`/items/${item.id}`)).status()).toBe(200);

  await openHydrated(page, "/deleted");
  await expect(page.getByRole("heading", { name: "Trash", level: 1 })).toBeVisible();
  const entry = row(page, name);
  await expect(entry).toContainText("Trash");
  await expect(entry).toContainText("12.00");
  for (const [width, height] of [[1280, 720], [390, 844]]) {
    await page.setViewportSize({ width, height });
    for (const scheme of ["light", "dark"] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.screenshot({ path: `test-results/trash-${width}-${scheme}.png`, fullPage: true });
    }
  }
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.emulateMedia({ colorScheme: "light" });
  // Purging is for admins; with logins off everyone may.
  await expect(entry.getByRole("button", { name: "Purge" })).toBeVisible();

  await entry.getByRole("button", { name: `Restore ${name}` }).click();
  await expect(entry).toHaveCount(0);
  expect((await request.get(`/items/${item.id}`)).status()).toBe(200);
});

test("purging asks first and removes the item for good", async ({ page, request }) => {
  const name = uniqueName("Shredded");
  const item = await createViaRest(request, { name });
  expect((await request.delete(`/items/${item.id}`)).status()).toBe(200);

  await openHydrated(page, "/deleted");
  const entry = row(page, name);
  await entry.getByRole("button", { name: "Purge" }).click();
  await entry.getByRole("button", { name: "Yes, purge" }).click();
  await expect(entry).toHaveCount(0);
  expect((await request.post(`/trash/${item.id}/restore`)).status()).toBe(404);
  expect((await request.get(`/items/${item.id}/history`)).status()).toBe(404);
});
