// The dashboard page: reads the slicers, fetches each widget's JSON endpoint and draws it.
// Every URL is relative to <base href>, so the page works standalone at / and inside Airflow
// under /credit-risk/. Charts are drawn with the plotly.js bundled in the Python package.
"use strict";

// The risk categories (worst first: High, Medium, Low, Unknown), the segment of customer-months
// without a statement, and each one's colour: all from api/months (credit_risk.catalog holds
// the list), filled in by init() before anything is drawn.
let CATEGORIES = [];
let NO_STATEMENT = "";
let COLORS = {};
const PLOT_CONFIG = { displaylogo: false, responsive: true };
const BASE_LAYOUT = {
  margin: { l: 60, r: 40, t: 10, b: 50 },
  paper_bgcolor: "rgba(0,0,0,0)",
  plot_bgcolor: "rgba(0,0,0,0)",
  legend: { orientation: "h", y: -0.2 },
  font: { size: 12 },
};
// KPIs whose rise is neither good nor bad news (spend): their change is shown in grey. For every
// other KPI a rise means more risk, so it is red, a fall green.
const NEUTRAL_KPIS = new Set(["avg_monthly_spend"]);
const KPI_KINDS = {
  utilization_pct: "pct",
  high_risk_customers: "count",
  high_risk_share_pct: "pct",
  avg_monthly_spend: "money",
  delinquent_30_plus: "count",
  anomalies: "count",
  predicted_to_turn_high_risk: "count",
  predicted_high_risk: "count",
};

// The sort keys the API accepts (each served by an index; see docs/dashboard.md).
const AT_RISK_SORTS = new Set(["customer_id", "utilization_pct", "days_past_due", "monthly_spend", "probability"]);
const ANOMALY_SORTS = new Set(["score", "customer_id", "risk_category", "monthly_spend", "baseline_mean", "baseline_std", "strength"]);

const state = {
  month: null,
  category: "",
  customer: null,
  q: "",
  atRisk: { sort: "utilization_pct", order: "desc", offset: 0, limit: 25 },
  anomalies: { sort: "score", order: "desc", offset: 0, limit: 25 },
  generation: 0,
};

const money = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const count = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

function format(value, kind) {
  if (value === null || value === undefined) return "–";
  if (kind === "pct") return `${money.format(value)} %`;
  if (kind === "money") return money.format(value);
  if (kind === "prob") return value.toFixed(3);
  return count.format(value);
}

function when(stamp) {
  // "2024-05-01T09:13:02.123456Z" -> "2024-05-01 09:13 UTC"
  return stamp ? `${stamp.slice(0, 10)} ${stamp.slice(11, 16)} UTC` : "–";
}

function signed(value, kind) {
  const text = kind === "pct" ? `${money.format(Math.abs(value))} pp` : format(Math.abs(value), kind);
  if (value > 0) return `▲ +${text}`;
  if (value < 0) return `▼ -${text}`;
  return `= ${text}`;
}

function apiUrl(path, params) {
  const url = new URL(path, document.baseURI);
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(key, value);
  }
  return url;
}

async function getJson(path, params) {
  const response = await fetch(apiUrl(path, params), { headers: { Accept: "application/json" } });
  const body = await response.json();
  if (!response.ok) throw new Error(body.message || response.statusText);
  return body;
}

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

function slicerParams() {
  return { month: state.month, category: state.category };
}

// --- charts ------------------------------------------------------------------------------------

async function plot(id, traces, layout) {
  const node = document.getElementById(id);
  node.classList.remove("unavailable");
  await Plotly.react(node, traces, { ...BASE_LAYOUT, ...layout }, PLOT_CONFIG);
  node.dataset.rendered = "true";
}

function unavailable(id, message) {
  const node = document.getElementById(id);
  if (node.classList.contains("js-plotly-plot")) Plotly.purge(node);
  node.replaceChildren(el("p", { class: "not-available" }, message));
  node.classList.add("unavailable");
  node.dataset.rendered = "unavailable";
}

async function drawRiskDistribution() {
  const data = await getJson("api/risk-distribution", slicerParams());
  const segments = data.segments.filter((s) => s.customers > 0);  // no "0%" label for an empty one
  const labels = segments.map((s) => s.risk_category);
  await plot("chart-risk-distribution", [{
    type: "pie",
    hole: 0.55,
    labels,
    values: segments.map((s) => s.customers),
    marker: { colors: labels.map((c) => COLORS[c]) },
    pull: labels.map((c) => (c === data.selected ? 0.08 : 0)),
    sort: false,
    textinfo: "percent",
    hovertemplate: "%{label}: %{value} customers (%{percent})<extra></extra>",
  }], { margin: { l: 10, r: 10, t: 10, b: 10 }, showlegend: true });
}

async function drawRiskTrend() {
  const data = await getJson("api/risk-trend", { category: state.category });
  const traces = CATEGORIES.filter((c) => !state.category || c === state.category).map((c) => {
    const rows = data.rows.filter((r) => r.risk_category === c);
    return {
      type: "bar",
      name: c,
      x: rows.map((r) => r.month),
      y: rows.map((r) => r.customers),
      customdata: rows.map((r) => r.share_pct),
      marker: { color: COLORS[c] },
      hovertemplate: `${c}: %{y} customers (%{customdata:.2f} %)<extra>%{x}</extra>`,
    };
  });
  await plot("chart-risk-trend", traces, { barmode: "stack", xaxis: { type: "category" } });
}

async function drawUtilization() {
  const data = await getJson("api/utilization-histogram", { month: state.month });
  const { high_risk_pct: high, medium_risk_pct: medium } = data.thresholds;
  const colors = data.buckets.map((b) => {
    const [highRisk, mediumRisk, lowRisk] = CATEGORIES;
    if (b.bucket_floor_pct >= high) return COLORS[highRisk];
    if (b.bucket_floor_pct >= medium) return COLORS[mediumRisk];
    return COLORS[lowRisk];
  });
  await plot("chart-utilization", [{
    type: "bar",
    x: data.buckets.map((b) => b.label),
    y: data.buckets.map((b) => b.statements),
    marker: { color: colors },
    hovertemplate: "%{x}: %{y} statements<extra></extra>",
  }], {
    xaxis: { type: "category", title: { text: `utilization % of limit, ${data.month}` } },
    yaxis: { title: { text: "statements" } },
  });
}

async function drawSpendByCategory() {
  const data = await getJson("api/spend-by-category", { category: state.category });
  const present = new Set(data.rows.map((r) => r.risk_category));
  const names = [...CATEGORIES, NO_STATEMENT].filter((c) => present.has(c));
  const traces = names.map((c) => {
    const rows = data.rows.filter((r) => r.risk_category === c);
    return {
      type: "bar",
      name: c,
      x: rows.map((r) => r.month),
      y: rows.map((r) => r.total_spend),
      marker: { color: COLORS[c] },
    };
  });
  await plot("chart-spend-by-category", traces, {
    barmode: "group",
    xaxis: { type: "category" },
    yaxis: { title: { text: "total spend" } },
  });
}

async function drawPortfolioSpend() {
  const data = await getJson("api/portfolio-spend", { category: state.category });
  const x = data.rows.map((r) => r.month);
  const line = (name, key, dash) => ({
    type: "scatter", mode: "lines+markers", name, x, y: data.rows.map((r) => r[key]),
    line: { dash },
  });
  await plot("chart-portfolio-spend", [
    line("monthly spend", "total_spend", "solid"),
    line("3-month rolling average", "total_rolling_3_month_avg", "dash"),
    line("6-month rolling average", "total_rolling_6_month_avg", "dot"),
  ], {
    xaxis: { type: "category", automargin: true },
    yaxis: { title: { text: "sum over customers" }, rangemode: "tozero" },
  });
}

async function drawCreditLimit() {
  const data = await getJson("api/transactions-by-limit", { month: state.month });
  if (!data.available) {
    unavailable("chart-credit-limit", `Transactions by credit limit: ${data.message}`);
    return;
  }
  await plot("chart-credit-limit", [{
    type: "scatter",
    mode: "lines+markers",
    x: data.rows.map((r) => r.credit_limit),
    y: data.rows.map((r) => r.transactions),
    hovertemplate: "limit %{x:,.0f}: %{y} transactions<extra></extra>",
  }], {
    xaxis: { title: { text: `credit limit, ${data.month}` }, type: "category" },
    yaxis: { title: { text: "transactions" } },
  });
}

async function drawTopSpenders() {
  const data = await getJson("api/top-spenders", { ...slicerParams(), limit: 10 });
  const rows = [...data.rows].reverse();
  await plot("chart-top-spenders", [{
    type: "bar",
    orientation: "h",
    y: rows.map((r) => r.customer_id),
    x: rows.map((r) => r.monthly_spend),
    marker: { color: rows.map((r) => COLORS[r.risk_category] || COLORS[CATEGORIES.at(-1)]) },
    hovertemplate: "%{y}: %{x:,.2f}<extra></extra>",
  }], { margin: { l: 90, r: 20, t: 10, b: 40 }, yaxis: { type: "category" } });
  renderTopTable(data);
  return data;
}

function renderTopTable(data) {
  const columns = [
    ["customer_id", "Customer", "text"],
    ["risk_category", "Segment", "text"],
    ["monthly_spend", "Monthly spend", "money"],
    ["rolling_3_month_avg", "3-month avg", "money"],
    ["rolling_6_month_avg", "6-month avg", "money"],
  ];
  const table = document.getElementById("table-top-spenders");
  const head = el("tr", {}, ...columns.map(([, label]) => el("th", {}, label)));
  const body = data.rows.map((row) => tableRow(row, columns));
  const total = el("tr", { class: "total" },
    el("td", {}, "Average customer"), el("td", {}, data.category || "all"),
    el("td", {}, format(data.totals.avg_monthly_spend, "money")),
    el("td", {}, format(data.totals.avg_rolling_3_month_avg, "money")),
    el("td", {}, format(data.totals.avg_rolling_6_month_avg, "money")));
  table.replaceChildren(el("thead", {}, head), el("tbody", {}, ...body), el("tfoot", {}, total));
}

// --- KPI cards and banner ----------------------------------------------------------------------

async function drawKpis() {
  const data = await getJson("api/kpis", slicerParams());
  for (const [name, kpi] of Object.entries(data.kpis)) {
    const card = document.getElementById(`kpi-${name}`);
    if (!card) continue;
    const kind = KPI_KINDS[name];
    const isNote = card.classList.contains("note");
    const valueNode = isNote ? card : card.querySelector(".value");
    if (!kpi.available) {
      valueNode.textContent = "not available yet";
      valueNode.dataset.value = "";
      card.classList.add("unavailable");
      card.title = kpi.message;
      if (!isNote) card.querySelector(".change").textContent = "";
      continue;
    }
    card.classList.remove("unavailable");
    valueNode.dataset.value = kpi.value === null ? "" : String(kpi.value);
    if (isNote) {
      const prefix = name === "high_risk_share_pct" ? "" : "of ";
      const suffix = name === "high_risk_share_pct" ? " of statements" : " predicted High Risk";
      valueNode.textContent = `${prefix}${format(kpi.value, kind)}${suffix}`;
      continue;
    }
    valueNode.textContent = format(kpi.value, kind);
    const change = card.querySelector(".change");
    change.className = "change";
    if (kpi.change === null || kpi.change === undefined) {
      change.textContent = data.previous_month ? "" : "no previous month";
    } else {
      change.textContent = `${signed(kpi.change, kind)} vs ${data.previous_month}`;
      const direction = kpi.change > 0 ? "up" : kpi.change < 0 ? "down" : "flat";
      const meaning = NEUTRAL_KPIS.has(name) || direction === "flat" ? "neutral"
        : direction === "up" ? "worse" : "better";
      change.classList.add(direction, meaning);
    }
  }
  const flag = data.high_utilization_flag;
  const flagNode = document.getElementById("kpi-flag");
  flagNode.textContent = flag.value === null ? "" : `${flag.value} (flag at ${flag.threshold_pct} %)`;
  flagNode.dataset.value = flag.value || "";
  flagNode.className = `note flag ${flag.value === "High" ? "alert" : ""}`;
}

async function drawBanner() {
  const data = await getJson("api/freshness", { month: state.month });
  const banner = document.getElementById("banner");
  banner.className = `banner ${data.status}`;
  banner.dataset.status = data.status;
  const parts = [];
  if (data.status === "stale") parts.push(el("strong", { class: "warning" }, `⚠ ${data.message}`));
  parts.push(el("span", {}, `Showing ${data.month_shown || "–"}`));
  if (data.publication) {
    const p = data.publication;
    parts.push(el("span", {}, `published ${when(p.published_at)} (run ${p.run_month || "all"}, by ${p.published_by})`));
  } else {
    parts.push(el("span", {}, data.message));
  }
  const last = data.failed_validation || data.last_validation;
  if (last) {
    const outcome = last.is_success ? "passed" : `FAILED (${last.failed_expectations} of ${last.evaluated_expectations} expectations)`;
    const text = `${data.failed_validation ? "failed" : "last"} validation: ${last.stage} suite for ${last.month} ${outcome} at ${when(last.validated_at)}`;
    const node = el("span", { class: last.is_success ? "ok" : "failed" }, text);
    if (last.data_docs_url) {
      node.append(" ", el("a", { href: last.data_docs_url }, "Data Docs"));
    } else if (last.data_docs_path) {
      node.append(` (Data Docs: ${last.data_docs_path})`);
    }
    if (last.approved_by) {
      node.className = "approved";
      node.append(` — shift approved by ${last.approved_by}: ${last.approval_reason}`);
    }
    parts.push(node);
    if (!last.is_success && last.failures.length) {
      const list = el("ul", { class: "failures" }, ...last.failures.map((f) =>
        el("li", {}, `${f.expectation}${f.column ? ` on ${f.column}` : ""}: ${f.observed}`)));
      parts.push(list);
    }
  }
  banner.replaceChildren(...parts);
}

// --- tables ------------------------------------------------------------------------------------

function tableRow(row, columns, onClick) {
  const cells = columns.map(([key, , kind]) => {
    const value = row[key];
    const text = kind === "text" ? (value ?? "–") : format(value, kind);
    return el("td", { class: kind === "text" ? "" : "num" }, text);
  });
  const tr = el("tr", { "data-customer": row.customer_id }, ...cells);
  if (onClick) tr.addEventListener("click", () => onClick(row));
  return tr;
}

// A column's fourth element, when given, is the sort key its header uses (z-score: strength).
function sortableHead(columns, view, sortable, onSort) {
  return el("tr", {}, ...columns.map(([column, label, , sortKey]) => {
    const key = sortKey || column;
    if (!sortable.has(key)) return el("th", {}, label);
    const active = view.sort === key;
    const arrow = active ? (view.order === "desc" ? " ▼" : " ▲") : "";
    const th = el("th", { class: active ? "sorted" : "", "data-sort": key, title: `Sort by ${label}` }, label + arrow);
    th.addEventListener("click", () => {
      view.order = active && view.order === "desc" ? "asc" : "desc";
      view.sort = key;
      view.offset = 0;
      onSort();
    });
    return th;
  }));
}

function pager(id, view, total, onPage) {
  const node = document.getElementById(id);
  const first = total === 0 ? 0 : view.offset + 1;
  const last = Math.min(view.offset + view.limit, total);
  const prev = el("button", { type: "button", disabled: view.offset === 0 }, "‹ Previous");
  const next = el("button", { type: "button", disabled: last >= total }, "Next ›");
  prev.addEventListener("click", () => { view.offset = Math.max(0, view.offset - view.limit); onPage(); });
  next.addEventListener("click", () => { view.offset += view.limit; onPage(); });
  node.replaceChildren(prev, el("span", {}, `${count.format(first)}–${count.format(last)} of ${count.format(total)}`), next);
}

function exportLink(id, path, view, available) {
  const link = document.getElementById(id);
  link.hidden = !available;
  link.href = apiUrl(path, { ...slicerParams(), q: state.q, sort: view.sort, order: view.order }).toString();
}

async function drawAtRisk() {
  const view = state.atRisk;
  const data = await getJson("api/at-risk", {
    ...slicerParams(), q: state.q, sort: view.sort, order: view.order, limit: view.limit, offset: view.offset,
  });
  const columns = [
    ["customer_id", "Customer", "text"],
    ["risk_category", "Segment", "text"],
    ["utilization_pct", "Utilization %", "money"],
    ["credit_limit", "Credit limit", "money"],
    ["outstanding_balance", "Balance", "money"],
    ["days_past_due", "Days past due", "count"],
    ["monthly_spend", "Monthly spend", "money"],
  ];
  if (data.scores_available) columns.push(["probability", "P(High Risk next month)", "prob"]);
  document.getElementById("at-risk-title").textContent = `At-risk customers: ${data.category}, ${data.month}`;
  document.getElementById("at-risk-count").textContent = `${count.format(data.total)} customers`;
  const table = document.getElementById("table-at-risk");
  table.replaceChildren(
    el("thead", {}, sortableHead(columns, view, AT_RISK_SORTS, drawAtRiskSafely)),
    el("tbody", {}, ...data.rows.map((row) => tableRow(row, columns, (r) => selectCustomer(r.customer_id)))),
  );
  pager("at-risk-pager", view, data.total, drawAtRiskSafely);
  exportLink("at-risk-export", "api/at-risk.csv", view, true);
  return data;
}

async function drawAnomalies() {
  const view = state.anomalies;
  const data = await getJson("api/anomalies", {
    ...slicerParams(), q: state.q, sort: view.sort, order: view.order, limit: view.limit, offset: view.offset,
  });
  const table = document.getElementById("table-anomalies");
  exportLink("anomalies-export", "api/anomalies.csv", view, data.available);
  if (!data.available) {
    table.replaceChildren(el("tbody", {}, el("tr", {}, el("td", { class: "not-available" }, `Not available yet: ${data.message}`))));
    document.getElementById("anomalies-count").textContent = "";
    document.getElementById("anomalies-pager").replaceChildren();
    return;
  }
  // what was unusual first, then how strongly (the table opens sorted by the score); the
  // z-score column sorts by |z|, how far spend is from the customer's usual either way
  const columns = [
    ["anomaly_reason", "Reason", "text"],
    ["anomaly_score", "Score", "money", "score"],
    ["customer_id", "Customer", "text"],
    ["risk_category", "Segment", "text"],
    ["monthly_spend", "Monthly spend", "money"],
    ["baseline_mean", "Usual month", "money"],
    ["baseline_std", "Usual spread", "money"],
    ["z_score", "Spend z", "money", "strength"],
  ];
  document.getElementById("anomalies-count").textContent = `${count.format(data.total)} flagged in ${data.month}`;
  table.replaceChildren(
    el("thead", {}, sortableHead(columns, view, ANOMALY_SORTS, drawAnomaliesSafely)),
    el("tbody", {}, ...data.rows.map((row) => tableRow(row, columns, (r) => selectCustomer(r.customer_id)))),
  );
  pager("anomalies-pager", view, data.total, drawAnomaliesSafely);
}

// --- the selected customer ---------------------------------------------------------------------

async function drawCustomer() {
  if (!state.customer) {
    document.getElementById("customer-title").textContent = "Selected customer";
    document.getElementById("customer-card").replaceChildren();
    unavailable("chart-customer-spend", "Pick a customer in the search box or a table row.");
    return;
  }
  const data = await getJson("api/customer", { customer_id: state.customer });
  const x = data.months.map((m) => m.month);
  const line = (name, key, dash) => ({
    type: "scatter", mode: "lines+markers", name, x, y: data.months.map((m) => m[key]), line: { dash },
  });
  const current = data.current || {};
  const latestScore = [...data.months].reverse().find((m) => m.prediction);
  document.getElementById("customer-title").textContent = `Selected customer: ${data.customer_id}`;
  const card = document.getElementById("customer-card");
  const item = (label, value) => el("div", {}, el("span", { class: "label" }, label), el("span", { class: "figure" }, value));
  card.replaceChildren(
    item("segment now", `${current.risk_category || "–"} (${current.month || "–"})`),
    item("utilization now", format(current.utilization_pct, "pct")),
    item("avg monthly spend", format(data.summary.avg_monthly_spend, "money")),
    item("avg credit limit", format(data.summary.avg_credit_limit, "money")),
    item("avg 3-month rolling", format(data.summary.avg_rolling_3_month_avg, "money")),
    item("avg 6-month rolling", format(data.summary.avg_rolling_6_month_avg, "money")),
    item("P(High Risk next month)", data.scores_available && latestScore ? format(latestScore.prediction.probability, "prob") : "not available yet"),
  );
  const selected = x.indexOf(state.month);
  await plot("chart-customer-spend", [
    line("monthly spend", "monthly_spend", "solid"),
    line("3-month rolling average", "rolling_3_month_avg", "dash"),
    line("6-month rolling average", "rolling_6_month_avg", "dot"),
  ], {
    xaxis: { type: "category" },
    shapes: selected < 0 ? [] : [{ type: "line", xref: "x", yref: "paper", x0: state.month, x1: state.month, y0: 0, y1: 1, line: { color: "#888", dash: "dot" } }],
  });
}

function selectCustomer(customerId) {
  state.customer = customerId;
  saveState();
  run(drawCustomer);
}

async function searchCustomers(text) {
  const options = document.getElementById("customer-options");
  if (!text) {
    options.replaceChildren();
    return [];
  }
  const data = await getJson("api/customers", { q: text, limit: 20 });
  options.replaceChildren(...data.rows.map((r) => el("option", { value: r.customer_id }, `${r.risk_category || ""}`)));
  return data.rows;
}

// --- wiring ------------------------------------------------------------------------------------

function run(task) {
  return task().catch((error) => {
    console.error(`dashboard widget failed: ${error.message}`);
  });
}

const drawAtRiskSafely = () => run(drawAtRisk);
const drawAnomaliesSafely = () => run(drawAnomalies);

function saveState() {
  const params = new URLSearchParams();
  if (state.month) params.set("month", state.month);
  if (state.category) params.set("category", state.category);
  if (state.customer) params.set("customer", state.customer);
  const query = params.toString();
  history.replaceState(null, "", query ? `?${query}` : window.location.pathname);
}

async function refreshAll() {
  const generation = ++state.generation;
  document.body.dataset.loading = "true";
  saveState();
  const widgets = [
    drawBanner, drawKpis, drawRiskDistribution, drawRiskTrend, drawUtilization,
    drawSpendByCategory, drawPortfolioSpend, drawCreditLimit, drawAtRisk, drawAnomalies,
  ].map(run);
  // the drill-down stays empty until someone picks a customer (no arbitrary default)
  await Promise.all([...widgets, run(drawTopSpenders), run(drawCustomer)]);
  if (generation === state.generation) {
    saveState();
    document.body.dataset.loading = "false";
    document.body.dataset.generation = String(generation);
  }
}

async function init() {
  const initial = new URLSearchParams(window.location.search);
  const meta = await getJson("api/months");
  CATEGORIES = meta.categories;
  NO_STATEMENT = meta.no_statement;
  COLORS = meta.colors;
  const monthSelect = document.getElementById("month-slicer");
  monthSelect.replaceChildren(...[...meta.months].reverse().map((m) => el("option", { value: m }, m)));
  const categorySelect = document.getElementById("category-slicer");
  categorySelect.append(...meta.categories.map((c) => el("option", { value: c }, c)));
  state.month = meta.months.includes(initial.get("month")) ? initial.get("month") : meta.latest;
  state.category = meta.categories.includes(initial.get("category")) ? initial.get("category") : "";
  state.customer = initial.get("customer") || null;
  monthSelect.value = state.month || "";
  categorySelect.value = state.category;

  monthSelect.addEventListener("change", () => {
    state.month = monthSelect.value;
    state.atRisk.offset = 0;
    state.anomalies.offset = 0;
    refreshAll();
  });
  categorySelect.addEventListener("change", () => {
    state.category = categorySelect.value;
    state.atRisk.offset = 0;
    state.anomalies.offset = 0;
    refreshAll();
  });
  const search = document.getElementById("customer-search");
  let timer = null;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => run(async () => {
      const text = search.value.trim();
      const rows = await searchCustomers(text);
      state.q = text;
      state.atRisk.offset = 0;
      state.anomalies.offset = 0;
      if (rows.some((r) => r.customer_id.toLowerCase() === text.toLowerCase())) {
        state.customer = rows.find((r) => r.customer_id.toLowerCase() === text.toLowerCase()).customer_id;
        saveState();
        run(drawCustomer);
      }
      await Promise.all([run(drawAtRisk), run(drawAnomalies)]);
    }), 250);
  });
  document.getElementById("customer-clear").addEventListener("click", () => {
    search.value = "";
    state.q = "";
    document.getElementById("customer-options").replaceChildren();
    run(drawAtRisk);
    run(drawAnomalies);
  });
  if (!meta.months.length) {
    document.getElementById("banner").textContent = "Nothing has been published yet: run the pipeline first.";
    document.body.dataset.loading = "false";
    return;
  }
  await refreshAll();
}

document.addEventListener("DOMContentLoaded", () => init().catch((error) => {
  const banner = document.getElementById("banner");
  banner.className = "banner stale";
  banner.textContent = `The dashboard cannot read the published data: ${error.message}`;
  document.body.dataset.loading = "false";
  console.error(`dashboard failed to start: ${error.message}`);
}));
