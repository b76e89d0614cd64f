import { expect, test, type Page } from "@playwright/test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createViaRest,
  freePort,
  openHydrated,
  ROOT,
  row,
  rowById,
  startServer,
  stopServer,
  uniqueName,
} from "./helpers";

// The item table follows GET /items/events: changes made by any other
// client show up without a reload, within the page's filter.

/** Opens a page, waits for hydration and for its event stream to open. */
async function openLive(page: Page, path: string) {
  await openHydrated(page, path);
  await expect(page.locator("body")).toHaveAttribute("data-live", "true");
}

test("the table follows creates, changes and deletes made elsewhere", async ({ page, request }) => {
  const name = uniqueName("Live");
  await openLive(page, `/?q=${encodeURIComponent(name)}`);
  await expect(page.getByText("No items match these filters.")).toBeVisible();

  const item = await createViaRest(request, { name, category: "Arrived" });
  await expect(row(page, name)).toContainText("Arrived", { timeout: 2_000 });

  const changed = await request.put(`/items/${item.id}`, { data: { name, category: "Changed" } });
  expect(changed.status()).toBe(200);
  await expect(row(page, name)).toContainText("Changed", { timeout: 2_000 });

  // A change outside the filter does not show up in it.
  await createViaRest(request, { name: uniqueName("Elsewhere") });
  expect(await request.delete(`/items/${item.id}`).then((r) => r.status())).toBe(200);
  await expect(row(page, name)).toHaveCount(0, { timeout: 2_000 });
  await expect(page.getByText("No items match these filters.")).toBeVisible();
});

test("a row being edited is kept and marked when someone else changes it", async ({ page, request }) => {
  const name = uniqueName("Contested");
  const item = await createViaRest(request, { name });
  await openLive(page, `/?q=${encodeURIComponent(name)}`);

  await row(page, name).getByRole("button", { name: `Edit ${name}` }).click();
  const editor = rowById(page, item.id);
  const field = editor.getByRole("textbox", { name: "Name", exact: true });
  await field.fill(`${name} my draft`);

  // Someone else renames it, and adds another matching item, meanwhile.
  await request.put(`/items/${item.id}`, { data: { name: `${name} theirs` } });
  const other = await createViaRest(request, { name: `${name} second` });

  await expect(editor.getByRole("status")).toContainText("Someone else changed this item");
  await expect(field).toHaveValue(`${name} my draft`);
  await expect(rowById(page, other.id)).toHaveCount(0);

  // Closing the editor brings the table up to date.
  await editor.getByRole("button", { name: "Cancel" }).click();
  await expect(row(page, `${name} theirs`)).toBeVisible();
  await expect(rowById(page, other.id)).toBeVisible();
});

// Servers of the tests' own, for restarts and several instances.

const BINARY = process.env.ITEMSERVE_BIN ?? join(ROOT, "target", "debug", "itemserve");
const SITE = join(ROOT, "target", "site");
const POSTGRES = process.env.ITEMSERVE_TEST_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/test";

test("after the stream drops (a server restart) the page reconnects and catches up", async ({ browser }) => {
  const dir = mkdtempSync(join(tmpdir(), "itemserve-live-"));
  const database = `sqlite://${join(dir, "items.db")}`;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let server = await startServer(BINARY, SITE, database, port);
  try {
    const context = await browser.newContext({ baseURL: base });
    const page = await context.newPage();
    const name = uniqueName("Gap");
    await openLive(page, `/?q=${encodeURIComponent(name)}`);

    await stopServer(server);
    server = await startServer(BINARY, SITE, database, port);
    // Written right after the restart, before the page has reconnected.
    await createViaRest(context.request, { name });
    await expect(row(page, name)).toBeVisible({ timeout: 5_000 });
    // And live again afterwards.
    await createViaRest(context.request, { name: `${name} later` });
    await expect(row(page, `${name} later`)).toBeVisible({ timeout: 2_000 });
    await context.close();
  } finally {
    await stopServer(server);
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Runs SQL on the PostgreSQL server with psql; false when it cannot. */
function psql(sql: string): boolean {
  const result = spawnSync("psql", ["-q", "-v", "ON_ERROR_STOP=1", POSTGRES, "-c", sql], { encoding: "utf8" });
  return result.status === 0;
}

test("with PostgreSQL, a create through one instance appears in a page served by another", async ({ browser }) => {
  const database = `itemserve_e2e_${process.pid}_${Date.now()}`;
  const available = psql(`CREATE DATABASE ${database}`);
  if (!available && process.env.ITEMSERVE_REQUIRE_POSTGRES) {
    throw new Error(`PostgreSQL is required but psql could not reach ${POSTGRES}`);
  }
  test.skip(!available, `no PostgreSQL (psql) at ${POSTGRES}: the two-instance test did not run`);
  const url = POSTGRES.replace(/\/[^/?]*(\?|$)/, `/${database}$1`);
  const [portA, portB] = [await freePort(), await freePort()];
  const a = await startServer(BINARY, SITE, url, portA);
  const b = await startServer(BINARY, SITE, url, portB);
  try {
    const context = await browser.newContext({ baseURL: `http://127.0.0.1:${portB}` });
    const page = await context.newPage();
    const name = uniqueName("Across");
    await openLive(page, `/?q=${encodeURIComponent(name)}`);

    const created = await context.request.post(`http://127.0.0.1:${portA}/items/`, { data: { name } });
    expect(created.status()).toBe(201);
    await expect(row(page, name)).toBeVisible({ timeout: 2_000 });
    await context.close();
  } finally {
    await stopServer(a);
    await stopServer(b);
    psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  }
});
