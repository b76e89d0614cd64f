import { expect, type APIRequestContext, type Page } from "@playwright/test";

/** The first admin's password on the test server with authentication on. */
export const ADMIN_PASSWORD = "e2e-admin-password";

/** Opens a page and waits until the WASM bundle has hydrated it. */
export async function openHydrated(page: Page, path = "/") {
  await page.goto(path);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
}

/** A name no other test (or earlier run) uses. */
export function uniqueName(prefix: string) {
  return `${prefix} ${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

/** Creates an item through the REST API and returns it. */
export async function createViaRest(request: APIRequestContext, body: Record<string, unknown>) {
  const response = await request.post("/items/", { data: body });
  expect(response.status()).toBe(201);
  return response.json();
}

/** The number of items matching `q`, according to the REST API. */
export async function countViaRest(request: APIRequestContext, q = "") {
  const response = await request.get(`/search/?limit=0&q=${encodeURIComponent(q)}`);
  expect(response.status()).toBe(200);
  return (await response.json()).total as number;
}

/** Types into the search box and submits. */
export async function search(page: Page, text: string) {
  const box = page.getByRole("searchbox", { name: "Search items" });
  await box.fill(text);
  await box.press("Enter");
  await expect(page).toHaveURL(new RegExp(`q=${encodeURIComponent(text).replace(/%20/g, "(\\+|%20)")}`));
}

/** The table row of the item with this name. */
export function row(page: Page, name: string) {
  return page.locator("tbody tr", { has: page.locator(".item-name", { hasText: name }) });
}

/** The "Add an item" form. */
export function createForm(page: Page) {
  return page.getByRole("region", { name: "Add an item" });
}

/** The table row (in edit mode or not) of the item with this id. */
export function rowById(page: Page, id: number) {
  return page.locator(`tr[data-item-id="${id}"]`);
}
