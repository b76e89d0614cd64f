import { defineConfig, devices } from "@playwright/test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ADMIN_PASSWORD } from "./tests/helpers";

// Every run starts its own server on a fresh, empty temporary database
// (plus the demo items), so tests never see leftovers of earlier runs.
const port = Number(process.env.E2E_PORT ?? 3199);
const authPort = port - 1;

const root = resolve(__dirname, "..");
const dataDir = mkdtempSync(join(tmpdir(), "itemserve-e2e-"));
const binary = process.env.ITEMSERVE_BIN ?? join(root, "target", "debug", "itemserve");

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  // One server and one database for the run: tests work on items they
  // create themselves, one test at a time.
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: process.env.CI ? [["list"]] : [["list"], ["html", { open: "never" }]],
  use: {
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
  projects: [
    // The item and prediction pages, with authentication off (anyone may
    // write, as in the original app's walkthrough).
    {
      name: "open",
      testIgnore: /auth\.spec\.ts/,
      use: { ...devices["Desktop Chrome"], baseURL: `http://127.0.0.1:${port}` },
    },
    // Logging in, roles, the admin page and the API docs, on a second
    // server with authentication on.
    {
      name: "auth",
      testMatch: /auth\.spec\.ts/,
      use: { ...devices["Desktop Chrome"], baseURL: `http://127.0.0.1:${authPort}` },
    },
  ],
  webServer: [server(port, "off", "e2e.db"), server(authPort, "on", "e2e-auth.db")],
});

function server(listen: number, auth: "on" | "off", database: string) {
  return {
    command: binary,
    cwd: root,
    url: `http://127.0.0.1:${listen}/readyz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "pipe" as const,
    stderr: "pipe" as const,
    env: {
      LEPTOS_SITE_ADDR: `127.0.0.1:${listen}`,
      LEPTOS_SITE_ROOT: join(root, "target", "site"),
      DATABASE_URL: `sqlite://${join(dataDir, database)}`,
      RUST_LOG: "warn",
      ITEMSERVE_AUTH: auth,
      ITEMSERVE_ADMIN_PASSWORD: ADMIN_PASSWORD,
      // The tests log in more often than ten times a minute.
      ITEMSERVE_LOGIN_RATE_LIMIT: "100",
    },
  };
}
