// Renders /api/openapi.json as a readable, searchable reference. No dependencies, no network
// beyond this server, no inline code: it runs under `Content-Security-Policy: default-src 'self'`.
"use strict";

(function () {
  const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    }
    for (const c of children || []) if (c) node.appendChild(c);
    return node;
  }

  function resolve(doc, schema) {
    let s = schema, depth = 0;
    while (s && s.$ref && depth < 20) {
      const name = s.$ref.replace("#/components/schemas/", "");
      s = (doc.components && doc.components.schemas && doc.components.schemas[name]) || {};
      depth += 1;
    }
    return s || {};
  }

  function schemaName(schema) {
    if (!schema) return "";
    if (schema.$ref) return schema.$ref.split("/").pop();
    if (schema.type === "array" && schema.items) return schemaName(schema.items) + "[]";
    return Array.isArray(schema.type) ? schema.type.join(" | ") : (schema.type || "object");
  }

  function renderSchema(doc, schema) {
    const s = resolve(doc, schema);
    const props = s.properties || {};
    const names = Object.keys(props);
    if (names.length === 0) return el("p", { class: "schema", text: schemaName(schema) });
    const required = new Set(s.required || []);
    const rows = names.map((n) => el("tr", {}, [
      el("td", {}, [el("code", { text: n + (required.has(n) ? "" : "?") })]),
      el("td", { text: schemaName(props[n]) }),
      el("td", { text: resolve(doc, props[n]).description || props[n].description || "" }),
    ]));
    return el("table", { class: "schema" }, [
      el("caption", { text: schemaName(schema) }),
      el("thead", {}, [el("tr", {}, [el("th", { text: "field" }), el("th", { text: "type" }), el("th", { text: "description" })])]),
      el("tbody", {}, rows),
    ]);
  }

  function renderOperation(doc, path, method, op) {
    const body = [];
    if (op.description) body.push(el("p", { text: op.description }));
    const params = op.parameters || [];
    if (params.length) {
      body.push(el("h4", { text: "Parameters" }));
      body.push(el("ul", {}, params.map((p) => el("li", {}, [
        el("code", { text: p.name }), document.createTextNode(` (${p.in}${p.required ? ", required" : ""}) ${p.description || ""}`),
      ]))));
    }
    const rb = op.requestBody && op.requestBody.content;
    if (rb) {
      body.push(el("h4", { text: "Request body" }));
      for (const [type, media] of Object.entries(rb)) {
        body.push(el("p", {}, [el("code", { text: type })]));
        if (media.schema) body.push(renderSchema(doc, media.schema));
      }
    }
    body.push(el("h4", { text: "Responses" }));
    for (const [status, resp] of Object.entries(op.responses || {})) {
      const content = resp.content || {};
      const types = Object.keys(content);
      body.push(el("div", { class: "response" }, [
        el("p", {}, [el("strong", { text: status }), document.createTextNode(" " + (resp.description || "") + (types.length ? " — " + types.join(", ") : ""))]),
        ...types.filter((t) => content[t].schema).map((t) => renderSchema(doc, content[t].schema)),
      ]));
    }
    const summary = el("summary", {}, [
      el("span", { class: "method " + method, text: method.toUpperCase() }),
      el("code", { class: "path", text: path }),
      el("span", { class: "summary", text: op.summary || "" }),
    ]);
    const details = el("details", { class: "operation" }, [summary, ...body]);
    details.dataset.search = [method, path, op.summary || "", (op.tags || []).join(" ")].join(" ").toLowerCase();
    return details;
  }

  function render(doc) {
    const main = document.getElementById("endpoints");
    main.textContent = "";
    const byTag = new Map();
    for (const [path, item] of Object.entries(doc.paths || {})) {
      for (const m of METHODS) {
        if (!item[m]) continue;
        const tag = (item[m].tags && item[m].tags[0]) || "other";
        if (!byTag.has(tag)) byTag.set(tag, []);
        byTag.get(tag).push(renderOperation(doc, path, m, item[m]));
      }
    }
    let count = 0;
    for (const [tag, ops] of [...byTag.entries()].sort()) {
      count += ops.length;
      main.appendChild(el("section", { "data-tag": tag }, [el("h2", { text: tag }), ...ops]));
    }
    const info = doc.info || {};
    document.getElementById("summary").textContent =
      `${info.title || "API"} ${info.version || ""} — OpenAPI ${doc.openapi || "?"}, ${count} operations`;
  }

  function filter(text) {
    const q = text.trim().toLowerCase();
    for (const op of document.querySelectorAll("details.operation")) {
      op.hidden = q !== "" && !op.dataset.search.includes(q);
    }
    for (const section of document.querySelectorAll("section[data-tag]")) {
      section.hidden = [...section.querySelectorAll("details.operation")].every((d) => d.hidden);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.getElementById("filter").addEventListener("input", (e) => filter(e.target.value));
    fetch("/api/openapi.json", { headers: { accept: "application/json" } })
      .then((r) => { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(render)
      .catch((e) => { document.getElementById("summary").textContent = "Could not load the API document: " + e.message; });
  });
})();
