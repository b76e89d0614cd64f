import { expect, test, type Page } from "@playwright/test";
import { openHydrated } from "./helpers";

function feature(page: Page, name: string) {
  return page.getByRole("textbox", { name, exact: true });
}

function chartLine(page: Page) {
  return page.locator("svg.chart polyline").first();
}

test("the linear model gives about 6.88 for the original example", async ({ page }) => {
  await openHydrated(page, "/predict?model=linear");
  await expect(page.getByRole("heading", { name: "linear" })).toBeVisible();
  await feature(page, "feature1").fill("1.5");
  await feature(page, "feature2").fill("2.3");
  await feature(page, "feature3").fill("0.8");
  await page.getByRole("button", { name: "Predict" }).click();
  await expect(page.getByTestId("prediction-value")).toHaveText(/^6\.8[78]/);
});

test("iris shows a class with a probability bar per class", async ({ page }) => {
  await openHydrated(page, "/predict?model=iris");
  await feature(page, "petal_length (cm)").fill("1.4");
  await feature(page, "petal_width (cm)").fill("0.2");
  await page.getByRole("button", { name: "Predict" }).click();
  await expect(page.getByTestId("prediction-class")).toHaveText("setosa");
  const bars = page.getByRole("meter");
  await expect(bars).toHaveCount(3);
  const setosa = Number(await page.getByRole("meter", { name: "probability of setosa" }).getAttribute("aria-valuenow"));
  expect(setosa).toBeGreaterThan(0.5);
  await expect(page.locator("svg.chart polyline")).toHaveCount(3);
});

test("the what-if chart is drawn and follows the form", async ({ page }) => {
  await openHydrated(page, "/predict?model=linear");
  const line = chartLine(page);
  await expect(line).toHaveAttribute("points", /\d/);
  // A linear model's line keeps its shape when another feature changes;
  // the y axis moves with it.
  const ticks = page.locator("svg.chart text.tick");
  const before = await ticks.allTextContents();

  await feature(page, "feature2").fill("2.5");
  await expect.poll(() => ticks.allTextContents()).not.toEqual(before);

  const sweptFeature1 = await ticks.allTextContents();
  await page.getByLabel("Feature to sweep").selectOption("feature3");
  await expect(page.locator("svg.chart .axis-label")).toHaveText("feature3");
  // feature3 moves the prediction a quarter as much as feature1.
  await expect.poll(() => ticks.allTextContents()).not.toEqual(sweptFeature1);
});

test("a non-numeric feature shows a field error and no prediction", async ({ page }) => {
  await openHydrated(page, "/predict?model=linear");
  await feature(page, "feature1").fill("lots");
  await expect(page.locator("#feature-feature1-error")).toContainText("valid number");
  await page.getByRole("button", { name: "Predict" }).click();
  await expect(page.getByText("Press Predict to run the model")).toBeVisible();
  await expect(page.getByText("Fix the highlighted fields to see the chart.")).toBeVisible();
});

test("the model list links to each model and shows its status", async ({ page }) => {
  await openHydrated(page, "/predict");
  const list = page.getByRole("navigation", { name: "Models" });
  await expect(list.getByRole("link")).toHaveCount(3);
  await list.getByRole("link", { name: /diabetes/ }).click();
  await expect(page).toHaveURL(/model=diabetes/);
  await expect(page.getByRole("heading", { name: "diabetes" })).toBeVisible();
  await expect(page.getByRole("textbox", { name: "bmi", exact: true })).toBeVisible();
});
