import { expect, test, type Page } from "@playwright/test";
import { ADMIN_PASSWORD, openCreateForm, openHydrated, row, uniqueName } from "./helpers";

// One server with authentication on; the tests run in order and build on
// the users the first one creates.
test.describe.configure({ mode: "serial" });

const suffix = Date.now().toString(36);
const viewer = { name: `vera-${suffix}`, password: "viewer password 1" };
const editor = { name: `eddie-${suffix}`, password: "editor password 1" };

async function logIn(page: Page, name: string, password: string) {
  await openHydrated(page, "/login");
  await page.getByLabel("User name").fill(name);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.locator(".account-name")).toContainText(name);
}

test("an admin logs in and adds a viewer and an editor", async ({ page }) => {
  await openHydrated(page, "/");
  await expect(page.getByRole("link", { name: "Log in" })).toBeVisible();
  // Anonymous visitors read but do not get the write actions.
  await expect(page.getByRole("button", { name: "New item" })).toHaveCount(0);

  await logIn(page, "admin", ADMIN_PASSWORD);
  await expect(page.getByRole("button", { name: "New item" })).toBeVisible();
  await page.getByRole("link", { name: "Users" }).click();
  await expect(page).toHaveURL(/\/admin$/);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  for (const user of [
    { ...viewer, role: "viewer" },
    { ...editor, role: "editor" },
  ]) {
    await page.getByLabel("User name").fill(user.name);
    await page.getByLabel("Password", { exact: true }).fill(user.password);
    await page.getByLabel("Role", { exact: true }).selectOption(user.role);
    await page.getByRole("button", { name: "Add user" }).click();
    await expect(page.getByRole("status")).toContainText(`Added ${user.name} as ${user.role}`);
    await expect(page.locator(`tr[data-user="${user.name}"]`)).toBeVisible();
  }
  await page.screenshot({ path: "test-results/admin-users.png", fullPage: true });
});

test("an admin reads the audit log and filters it", async ({ page }) => {
  // A failed login to find there (the API's form: no page, no rate limit
  // on this browser's address beyond one attempt).
  const tried = `nobody-${suffix}`;
  const refused = await page.request.post("/auth/token", { form: { username: tried, password: "a wrong guess" } });
  expect(refused.status()).toBe(401);
  await logIn(page, "admin", ADMIN_PASSWORD);
  await openHydrated(page, "/admin");
  await page.getByRole("link", { name: "Audit log" }).click();
  await expect(page).toHaveURL(/\/admin\?view=audit$/);
  await expect(page.getByRole("heading", { name: "Audit log", level: 1 })).toBeVisible();
  const entries = page.locator("table.audit tbody tr");
  // The users the first test added, by this admin, through the UI.
  const added = entries.filter({ hasText: viewer.name }).filter({ hasText: "User created" });
  await expect(added).toContainText("role viewer");
  await expect(added).toContainText("UI");
  await expect(entries.filter({ hasText: tried })).toContainText("no user has this name");

  await page.getByLabel("Action").selectOption("login_failed");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/action=login_failed/);
  await expect(entries.filter({ hasText: tried })).toHaveCount(1);
  await expect(entries.filter({ hasText: "User created" })).toHaveCount(0);
  for (const [width, height] of [[1280, 720], [390, 844]]) {
    await page.setViewportSize({ width, height });
    for (const scheme of ["light", "dark"] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.screenshot({ path: `test-results/audit-${width}-${scheme}.png`, fullPage: true });
    }
  }
});

test("logging in never leaves the site, whatever ?next= says", async ({ browser, baseURL }) => {
  const site = new URL(baseURL!).origin;
  // Known bypasses of a filter that only refuses "//": browsers read "\"
  // as "/", drop tabs, and decode what they are given.
  const bypasses = [
    "//evil.example/pwned",
    "/\\127.0.0.1:9/pwned",
    "/\t/127.0.0.1:9/pwned",
    "/%5C127.0.0.1:9/pwned",
    "/%2F%2F127.0.0.1:9/pwned",
    "javascript:alert(document.domain)",
    "https://evil.example/",
  ];
  for (const [next, expected] of [...bypasses.map((b) => [b, "/"]), ["/admin", "/admin"]]) {
    const context = await browser.newContext({ baseURL });
    const page = await context.newPage();
    const dialogs: string[] = [];
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await openHydrated(page, `/login?next=${encodeURIComponent(next)}`);
    await page.getByLabel("User name").fill("admin");
    await page.getByLabel("Password").fill(ADMIN_PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    await expect(page).toHaveURL(`${site}${expected}`);
    await expect(page.locator(".account-name")).toContainText("admin");
    expect(dialogs, next).toEqual([]);
    await context.close();
  }
});

test("a viewer sees no write actions", async ({ page }) => {
  await logIn(page, viewer.name, viewer.password);
  await expect(page.locator(".role-badge")).toHaveText("viewer");
  await expect(page.locator("tbody tr").first()).toBeVisible();
  await expect(page.getByRole("button", { name: "New item" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Import", exact: true })).toHaveCount(0);
  // Reading includes exporting.
  await expect(page.getByRole("link", { name: "Export CSV" })).toBeVisible();
  await expect(page.getByRole("button", { name: /^Edit / })).toHaveCount(0);
  await expect(page.getByRole("button", { name: /^Delete / })).toHaveCount(0);
  // Nor the boxes that choose rows for bulk actions.
  await expect(page.getByRole("checkbox")).toHaveCount(0);
  await expect(page.getByRole("link", { name: "Users" })).toHaveCount(0);
  await page.screenshot({ path: "test-results/viewer.png", fullPage: true });
});

test("an editor creates, edits and deletes an item, then logs out", async ({ page }) => {
  await logIn(page, editor.name, editor.password);
  const name = uniqueName("Editor lamp");
  await openCreateForm(page);
  await page.getByLabel("Name").fill(name);
  await page.getByRole("button", { name: "Add item" }).click();
  await expect(page.getByRole("status")).toContainText(`Added “${name}”`);

  await page.getByRole("searchbox", { name: "Search items" }).fill(name);
  await page.getByRole("searchbox", { name: "Search items" }).press("Enter");
  await row(page, name).getByRole("button", { name: `Edit ${name}` }).click();
  const renamed = `${name} v2`;
  await page.locator("tr.editing input[name=name]").fill(renamed);
  await page.getByRole("button", { name: "Save" }).click();
  await expect(row(page, renamed)).toBeVisible();

  await row(page, renamed).getByRole("button", { name: `Delete ${renamed}` }).click();
  await page.getByRole("button", { name: "Yes, delete" }).click();
  await expect(row(page, renamed)).toHaveCount(0);

  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page.getByRole("link", { name: "Log in" })).toBeVisible();
  await expect(page.getByRole("button", { name: "New item" })).toHaveCount(0);
});

test("an expired session says so and keeps what was typed", async ({ page, context }) => {
  await logIn(page, editor.name, editor.password);
  const name = uniqueName("Typed before expiry");
  await openCreateForm(page);
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Description").fill("kept across the login");
  // The session ends on the server's side (as when it expires).
  await context.clearCookies();
  await page.getByRole("button", { name: "Add item" }).click();

  const dialog = page.getByRole("dialog", { name: "Your session has expired" });
  await expect(dialog).toBeVisible();
  await page.screenshot({ path: "test-results/session-expired.png", fullPage: true });
  // Behind the modal dialog, so found by id rather than by its label.
  await expect(page.locator("#new-name")).toHaveValue(name);
  await dialog.getByLabel("User name").fill(editor.name);
  await dialog.getByLabel("Password").fill(editor.password);
  await dialog.getByRole("button", { name: "Log in" }).click();
  await expect(dialog).toHaveCount(0);

  await expect(page.getByLabel("Description")).toHaveValue("kept across the login");
  await page.getByRole("button", { name: "Add item" }).click();
  await expect(page.getByRole("status")).toContainText(`Added “${name}”`);
});

test("Swagger UI loads without the internet and Try it out works", async ({ page }) => {
  const external: string[] = [];
  const violations: string[] = [];
  page.on("request", (request) => {
    if (!request.url().startsWith("http://127.0.0.1")) external.push(request.url());
  });
  page.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) violations.push(message.text());
  });
  await page.goto("/docs/");
  const operation = page.locator("#operations-items-items_list");
  await expect(operation).toBeVisible({ timeout: 20_000 });
  await operation.locator(".opblock-summary").click();
  // "Try it out" is on from the start (the server configures Swagger UI so).
  await expect(operation.getByRole("button", { name: "Cancel" })).toBeVisible();
  await operation.getByRole("button", { name: "Execute" }).click();
  await expect(operation.locator(".live-responses-table tbody .response-col_status").first()).toHaveText("200");
  await page.screenshot({ path: "test-results/swagger.png" });
  expect(external).toEqual([]);
  expect(violations).toEqual([]);
});

test("ReDoc renders the document without the internet", async ({ page }) => {
  const external: string[] = [];
  const violations: string[] = [];
  page.on("request", (request) => {
    // ReDoc's search runs in a worker made from a blob: URL of this page.
    const url = request.url();
    if (!url.startsWith("http://127.0.0.1") && !url.startsWith("blob:http://127.0.0.1")) external.push(url);
  });
  page.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) violations.push(message.text());
  });
  await page.goto("/redoc");
  await expect(page.getByRole("heading", { name: /itemserve/ }).first()).toBeVisible({ timeout: 20_000 });
  // An operation's own heading (its slash-less alias is titled "List items (same as ...)").
  await expect(page.locator("h2").filter({ hasText: /^\s*List items\s*$/ }).first()).toBeVisible();
  expect(external).toEqual([]);
  expect(violations).toEqual([]);
});

test("pages hydrate under the Content-Security-Policy without violations", async ({ page }) => {
  const violations: string[] = [];
  page.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) violations.push(message.text());
  });
  for (const path of ["/", "/predict", "/login"]) {
    const response = await page.goto(path);
    expect(response?.headers()["content-security-policy"]).toContain("'nonce-");
    await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  }
  expect(violations).toEqual([]);
});
