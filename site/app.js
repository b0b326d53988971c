// The store's page: buy things, and watch which version of each service answers.
// Everything it asks goes to /api/ on this page's own origin: CloudFront's /api/* cache
// behaviour forwards it to the store runtime's ingress gateway. The paths are relative
// ("api/...") so that the page also works under a path prefix (a notebook server's proxy).
"use strict";

const PRODUCTS = [
  { id: "mug", name: "Mesh mug", price: "12.00" },
  { id: "shirt", name: "Partition T-shirt", price: "25.00" },
  { id: "stickers", name: "Terraform stickers", price: "4.50" },
];
const SERVICES = ["store", "inventory", "customers", "payments"];
const params = new URLSearchParams(location.search);
const POLL_MS = Math.max(100, Number(params.get("poll")) || 700);
const WINDOW = Math.max(5, Number(params.get("window")) || 30);
const recent = [];
const seen = {}; // service -> version -> answers since the page opened
let paused = false;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of children) node.append(child);
  return node;
}

// What answered for each service, from a fake-service reply: "v1", "v2.1", or "failed".
// A build's message is "<service> <version>", and "... on <runtime>" from Terraform's modules.
function answers(reply) {
  const found = {};
  (function walk(node) {
    if (!node || typeof node !== "object") return;
    const name = node.name || "?";
    let version = "failed";
    if (!node.error && typeof node.body === "string") {
      const words = node.body.split(" ");
      version = words.length > 1 && words[0] === name ? words[1] : node.body;
    }
    if (node.error || (node.code && node.code !== 200 && version === "failed")) version = "failed";
    if (!(name in found) || version === "failed") found[name] = version;
    for (const child of Object.values(node.upstream_calls || {})) walk(child);
  })(reply);
  return found;
}

function chipClass(version) {
  if (version === "failed") return "chip v-failed";
  const known = { v1: "v-v1", v2: "v-v2", "v2.1": "v-v2-1" };
  return "chip " + (known[version] || "v-other");
}

async function callApi(path, method = "GET") {
  const started = new Date();
  let status = 0;
  let reply = {};
  try {
    const response = await fetch(path, { method, cache: "no-store" });
    status = response.status;
    reply = await response.json().catch(() => ({ error: "not JSON" }));
  } catch (error) {
    reply = { error: String(error) };
  }
  const entry = { started, status, reply, found: answers(reply) };
  for (const [service, version] of Object.entries(entry.found)) {
    seen[service] = seen[service] || {};
    seen[service][version] = (seen[service][version] || 0) + 1;
  }
  recent.unshift(entry);
  recent.length = Math.min(recent.length, WINDOW);
  render();
  return entry;
}

function render() {
  const versions = document.querySelector("#versions tbody");
  versions.replaceChildren();
  for (const service of SERVICES) {
    const counts = {};
    for (const entry of recent) {
      const version = entry.found[service];
      if (version) counts[version] = (counts[version] || 0) + 1;
    }
    const cell = el("td");
    for (const [version, count] of Object.entries(counts).sort()) {
      const share = Math.round((100 * count) / recent.length);
      cell.append(el("span", { class: chipClass(version), "data-version": version },
        `${version} ${share} %`));
    }
    const since = Object.entries(seen[service] || {}).sort()
      .map(([version, count]) => `${version}: ${count}`).join(", ");
    versions.append(el("tr", { "data-service": service }, el("td", {}, service), cell,
      el("td", { class: "seen" }, since)));
  }
  const rows = document.querySelector("#requests tbody");
  rows.replaceChildren();
  for (const entry of recent.slice(0, 10)) {
    const cells = SERVICES.map((service) => {
      const version = entry.found[service] || "-";
      return el("td", { class: version === "failed" ? "failed" : "" }, version);
    });
    rows.append(el("tr", { class: entry.status === 200 ? "" : "error" },
      el("td", {}, entry.started.toLocaleTimeString()), el("td", {}, String(entry.status)),
      ...cells));
  }
  if (recent.length) {
    const chain = document.querySelector("#chain");
    chain.replaceChildren(tree(recent[0].reply));
  }
}

function tree(node) {
  const list = el("ul");
  const code = node.code === undefined ? "" : node.code;
  const ok = code === 200;
  const what = node.error ? `error: ${node.error}` : (typeof node.body === "string" ? node.body : node.name);
  list.append(el("li", { class: "hop", "data-service": node.name || "?" },
    el("strong", {}, node.name || "?"), ` ${what} `,
    el("span", { class: ok ? "code-ok" : "code-bad" }, String(code)),
    node.duration ? ` ${node.duration}` : "",
    ...Object.values(node.upstream_calls || {}).map(tree)));
  return list;
}

async function buy(product) {
  const result = document.querySelector("#order-result");
  result.textContent = `Ordering ${product.name}...`;
  result.className = "";
  const entry = await callApi(`api/purchase?item=${encodeURIComponent(product.id)}`, "POST");
  const chain = SERVICES.map((s) => `${s} ${entry.found[s] || "-"}`).join(", ");
  if (entry.status === 200) {
    result.textContent = `Ordered ${product.name} (served by ${chain}).`;
    result.className = "ok";
  } else {
    result.textContent = `The order of ${product.name} failed with HTTP ${entry.status} (${chain}).`;
    result.className = "failed";
  }
}

function start() {
  const list = document.querySelector("#products");
  for (const product of PRODUCTS) {
    const button = el("button", { class: "buy", type: "button", "data-item": product.id }, "Buy");
    button.addEventListener("click", () => buy(product));
    list.append(el("li", {}, el("span", {}, `${product.name} — $${product.price}`), button));
  }
  document.querySelector("#poll-ms").textContent = String(POLL_MS);
  document.querySelector("#window-size").textContent = String(WINDOW);
  const pause = document.querySelector("#pause");
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.textContent = paused ? "resume" : "pause";
  });
  (async function poll() {
    if (!paused) await callApi("api/");
    setTimeout(poll, POLL_MS);
  })();
}

document.addEventListener("DOMContentLoaded", start);
