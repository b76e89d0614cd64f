import { expect, type APIRequestContext, type Page } from "@playwright/test";
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join, resolve } from "node:path";

/** The repository's root folder. */
export const ROOT = resolve(__dirname, "..", "..");

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

/** Opens the "Add an item" form with the "New item" button (its code is
 * fetched on the first open) and returns it. */
export async function openCreateForm(page: Page) {
  await page.getByRole("button", { name: "New item" }).click();
  await expect(createForm(page)).toBeVisible();
  return createForm(page);
}

/** The table row (in edit mode or not) of the item with this id. */
export function rowById(page: Page, id: number) {
  return page.locator(`tr[data-item-id="${id}"]`);
}

/** A free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => done(port));
    });
  });
}

/** Starts a server of the test's own (logins off) and waits until it is ready. */
export async function startServer(binary: string, site: string, databaseUrl: string, port: number): Promise<ChildProcess> {
  const child = spawn(binary, [], {
    stdio: ["ignore", "ignore", "inherit"],
    env: {
      ...process.env,
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: site,
      DATABASE_URL: databaseUrl,
      MODELS_DIR: join(ROOT, "models"),
      RUST_LOG: "warn",
      ITEMSERVE_AUTH: "off",
    },
  });
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) return child;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error("the server did not start");
}

/** Stops a server started by `startServer` and waits until it is gone. */
export async function stopServer(child: ChildProcess) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}
