// flowd console: the views of index.html, drawn from /ui/api/.
//
// Every piece of data reaches the page as text (textContent, attribute
// values): nothing a flow, a call or a caller's input holds is ever
// parsed as markup.
"use strict";

(() => {
  const main = document.getElementById("main");
  const SVG = "http://www.w3.org/2000/svg";

  // el makes an element: attrs are set as attributes (on* keys as event
  // listeners), children are nodes or strings (text).
  function make(doc, ns, tag, attrs, children) {
    const e = ns ? doc.createElementNS(ns, tag) : doc.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }
  const el = (tag, attrs, ...children) => make(document, null, tag, attrs, children);
  const svg = (tag, attrs, ...children) => make(document, SVG, tag, attrs, children);

  async function getJSON(path) {
    const res = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
    if (!res.ok) {
      let msg = res.status + " " + res.statusText;
      try { msg = (await res.json()).error || msg; } catch (_) { /* not JSON */ }
      throw new Error(msg);
    }
    return res.json();
  }

  const flowHref = (name) => "#/flows/" + encodeURIComponent(name);
  const callHref = (id) => "#/calls/" + encodeURIComponent(id);

  // when writes an RFC 3339 time as "2026-11-23 15:00:00 UTC".
  function when(t) {
    const d = new Date(t);
    if (isNaN(d)) return String(t || "");
    return d.toISOString().replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC");
  }

  // duration writes milliseconds as m:ss or h:mm:ss.
  function duration(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const pad = (n) => String(n).padStart(2, "0");
    return h > 0 ? h + ":" + pad(m) + ":" + pad(r) : m + ":" + pad(r);
  }

  // ---- the live calls, from the server's stream ----

  const live = {
    calls: new Map(), // call_uuid → call: the latest started, and those that moved since
    total: 0, // the calls live on the server, listed or not
    skew: 0, // the server's clock minus the browser's, in ms
    listeners: new Set(), // called with the call_uuid that changed, or null for all
  };
  const serverNow = () => Date.now() + live.skew;

  function clock(now) {
    const t = Date.parse(now);
    if (!isNaN(t)) live.skew = t - Date.now();
  }

  // keepCalls is how many calls the page keeps: the server lists the 500
  // latest started, and the page adds those that move or start.
  const keepCalls = 1000;

  function changed(id) {
    if (live.calls.size > keepCalls) {
      const oldest = [...live.calls.values()].sort((a, b) => (a.started < b.started ? -1 : a.started > b.started ? 1 : 0));
      for (const c of oldest.slice(0, live.calls.size - keepCalls)) live.calls.delete(c.call_uuid);
    }
    document.getElementById("live-count").textContent = String(live.total);
    for (const f of live.listeners) f(id);
  }

  function streamState(text, cls) {
    const s = document.getElementById("stream-state");
    s.textContent = text;
    s.className = "stream " + cls;
  }

  function connect() {
    const es = new EventSource("api/events");
    es.addEventListener("open", () => streamState("live", "live"));
    es.addEventListener("error", () => streamState("reconnecting…", "down"));
    es.addEventListener("calls", (e) => {
      const d = JSON.parse(e.data);
      clock(d.now);
      live.calls = new Map(d.calls.map((c) => [c.call_uuid, c]));
      live.total = d.total;
      changed(null);
    });
    es.addEventListener("call", (e) => {
      const d = JSON.parse(e.data);
      clock(d.now);
      live.calls.set(d.call.call_uuid, d.call);
      if (d.added) live.total++;
      changed(d.call.call_uuid);
    });
    es.addEventListener("gone", (e) => {
      const d = JSON.parse(e.data);
      clock(d.now);
      live.calls.delete(d.call.call_uuid);
      live.total = Math.max(0, live.total - 1);
      changed(d.call.call_uuid);
    });
  }

  // ---- views ----

  let view = { gen: 0, cleanup: [] };

  // show replaces the view; the returned generation tells a view's late
  // answers from the current view's.
  function show(title, ...children) {
    for (const f of view.cleanup) f();
    view = { gen: view.gen + 1, cleanup: [] };
    document.title = title + " · flowd";
    main.replaceChildren(...children);
    return view.gen;
  }
  const current = (gen) => gen === view.gen;
  // fill replaces main's content; absent parts (null) are left out.
  const fill = (...children) => main.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  function every(ms, f) {
    const t = setInterval(f, ms);
    view.cleanup.push(() => clearInterval(t));
  }
  function onLive(f) {
    live.listeners.add(f);
    view.cleanup.push(() => live.listeners.delete(f));
  }
  function failed(gen, what, err) {
    if (current(gen)) fill(el("h1", {}, what), el("p", { class: "error", role: "alert" }, err.message));
  }

  // The flows, and the files the latest reload rejected.
  async function flowsView() {
    const gen = show("Flows", el("h1", {}, "Flows"), el("p", { class: "note" }, "Loading…"));
    let data;
    try {
      data = await getJSON("api/flows");
    } catch (err) {
      return failed(gen, "Flows", err);
    }
    if (!current(gen)) return;
    const rows = data.flows.map((f) =>
      el("tr", { "data-flow": f.name },
        el("td", {}, el("a", { href: flowHref(f.name) }, f.name)),
        el("td", { class: "mono" }, f.version),
        el("td", { class: "mono" }, f.source),
        el("td", {}, when(f.loaded_at))));
    const flows = data.flows.length
      ? el("table", { id: "flows" },
        el("thead", {}, el("tr", {}, el("th", {}, "Flow"), el("th", {}, "Version"), el("th", {}, "Source file"), el("th", {}, "Loaded at"))),
        el("tbody", {}, rows))
      : el("p", {}, "No flow is being served.");
    const rejected = data.rejected.length
      ? el("div", { id: "rejected" }, data.rejected.map((r) =>
        el("section", { class: "rejected", "data-path": r.path },
          el("h3", { class: "mono" }, r.path),
          el("ul", { class: "diagnostics" }, r.diagnostics.map((d) =>
            el("li", {},
              d.file + ":" + d.line + ":" + d.col + ": ",
              el("span", { class: "severity-" + d.severity }, d.severity),
              ": " + d.message + " [" + d.code + "]"))))))
      : el("p", { id: "rejected" }, "The latest reload rejected no file.");
    fill(
      el("h1", {}, "Flows"),
      el("p", { class: "sub" }, "The flows this flowd serves: new calls start on the version shown."),
      flows,
      el("h2", {}, "Rejected files"),
      el("p", { class: "note" }, "Files the latest reload did not serve from; a flow keeps its last good version until its file loads cleanly."),
      rejected);
  }

  // A flow's diagram, with each node's counts.
  async function flowView(name) {
    const gen = show(name, el("h1", {}, name), el("p", { class: "note" }, "Loading…"));
    let data;
    try {
      data = await getJSON("api/flows/" + encodeURIComponent(name));
    } catch (err) {
      return failed(gen, name, err);
    }
    if (!current(gen)) return;
    const d = data.diagram;
    const counts = new Map(); // node id → the text elements its counts go in
    const drawing = svg("svg", {
      width: d.width, height: d.height, viewBox: "0 0 " + d.width + " " + d.height,
      role: "img", "aria-label": "Diagram of flow " + name + " with the calls that reached and ended at each node",
    },
    svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
      svg("path", { d: "M0,0 L10,5 L0,10 z" }))),
    d.edges.map((e) => svg("g", { class: "arrow" },
      svg("path", {
        class: "edge" + (e.back ? " back" : "") + (e.dashed ? " dashed" : ""),
        d: e.points.map((p, i) => (i ? "L" : "M") + p[0] + "," + p[1]).join(" "),
        "marker-end": "url(#arrow)",
      }),
      e.label ? svg("text", { class: "label", x: e.label_x, y: e.label_y, "text-anchor": e.label_anchor }, e.label) : null)),
    d.markers.map((m) => svg("g", { class: "marker" },
      svg("circle", { cx: m.x, cy: m.y, r: m.r }),
      svg("text", { x: m.x, y: m.y + 3 }, m.name === "on_error" ? "error" : m.name))),
    d.nodes.map((n) => {
      const visits = svg("text", { class: "visits", x: n.x + 10, y: n.y + 52 });
      const exits = svg("text", { class: "exits", x: n.x + 10, y: n.y + 68 });
      const bar = svg("rect", { class: "dropoff", x: n.x, y: n.y + n.h - 4, width: 0, height: 4 });
      const title = svg("title", {});
      counts.set(n.id, { visits, exits, bar, title, n });
      return svg("g", { class: "node style-" + n.style, "data-node": n.id },
        title,
        svg("rect", { class: "box", x: n.x, y: n.y, width: n.w, height: n.h, rx: 6 }),
        svg("text", { class: "id", x: n.x + 10, y: n.y + 18 }, n.id),
        svg("text", { class: "kind", x: n.x + 10, y: n.y + 34 }, n.kind),
        visits, exits, bar);
    }));
    const tbody = el("tbody", {});
    const table = el("table", { id: "counts" },
      el("caption", { class: "note" }, "The same counts as a table"),
      el("thead", {}, el("tr", {},
        el("th", {}, "Node"), el("th", {}, "Kind"),
        el("th", { class: "num" }, "Reached, last hour"), el("th", { class: "num" }, "Reached, since start"),
        el("th", { class: "num" }, "Ended, last hour"), el("th", { class: "num" }, "Ended, since start"))),
      tbody);
    const cells = new Map();
    for (const n of d.nodes) {
      const c = [el("td", { class: "num" }), el("td", { class: "num" }), el("td", { class: "num" }), el("td", { class: "num" })];
      cells.set(n.id, c);
      tbody.append(el("tr", { "data-node": n.id }, el("td", { class: "mono" }, n.id), el("td", {}, n.kind), c));
    }
    const updated = el("span", {});
    function showCounts(countsByNode, now) {
      for (const [id, t] of counts) {
        const c = countsByNode[id] || { visits: 0, exits: 0, visits_hour: 0, exits_hour: 0 };
        t.visits.textContent = "reached " + c.visits_hour + " (1h) · " + c.visits + " (all)";
        t.exits.textContent = "ended " + c.exits_hour + " (1h) · " + c.exits + " (all)";
        t.exits.setAttribute("class", "exits" + (c.exits ? " some" : ""));
        t.bar.setAttribute("width", c.visits ? Math.round(t.n.w * Math.min(1, c.exits / c.visits)) : 0);
        t.title.textContent = id + " (" + t.n.kind + "): reached " + c.visits_hour + " times in the last hour, " + c.visits +
          " since start; " + c.exits_hour + " calls ended here in the last hour, " + c.exits + " since start";
        const [a, b, e, f] = cells.get(id);
        a.textContent = c.visits_hour; b.textContent = c.visits; e.textContent = c.exits_hour; f.textContent = c.exits;
      }
      updated.textContent = "Counts as of " + when(now) + "; they refresh every 5 seconds.";
    }
    showCounts(data.counts, data.now);
    const refresh = el("button", { type: "button", onclick: () => reload() }, "Refresh counts");
    async function reload() {
      try {
        const again = await getJSON("api/flows/" + encodeURIComponent(name));
        if (current(gen) && again.version === data.version) showCounts(again.counts, again.now);
        else if (current(gen)) route(); // a new version: draw it
      } catch (err) {
        updated.textContent = "Could not refresh the counts: " + err.message;
      }
    }
    every(5000, reload);
    fill(
      el("p", { class: "note" }, el("a", { href: "#/flows" }, "← Flows")),
      el("h1", {}, "Flow " + name),
      data.description ? el("p", { class: "sub" }, data.description) : null,
      el("dl", { class: "facts" },
        el("dt", {}, "Version"), el("dd", { class: "mono" }, data.version),
        el("dt", {}, "Source file"), el("dd", { class: "mono" }, data.source),
        el("dt", {}, "Loaded at"), el("dd", {}, when(data.loaded_at))),
      el("div", { class: "legend" },
        el("span", {}, el("span", { class: "key callback" }), "waits for Plivo's callback"),
        el("span", {}, el("span", { class: "key logic" }), "runs on flowd (branch, set)"),
        el("span", {}, el("span", { class: "key end" }), "ends the flow"),
        el("span", {}, el("span", { class: "key subflow" }), "runs a subflow (its nodes count in its own flow)"),
        el("span", {}, el("span", { class: "key dropoff" }), "share of the calls reaching a node that ended there")),
      el("p", { class: "note" }, "On each node: reached — times a call's walk reached it; ended — calls that ended there (the flow ended, or the caller hung up waiting there). (1h) is the last hour, (all) since this flowd started."),
      el("div", { class: "diagram" }, drawing),
      el("p", { class: "note" }, updated, " ", refresh),
      table);
  }

  // The live calls, as they move.
  function callsView() {
    const tbody = el("tbody", {});
    const empty = el("p", { id: "no-calls" }, "No call is live on this flowd right now.");
    const rows = new Map(); // call_uuid → { tr, cells }
    show("Live calls",
      el("h1", {}, "Live calls"),
      el("p", { class: "sub" }, "The calls this flowd process is serving, updated as they move. With several replicas, each one's console shows the calls it served."),
      el("table", { id: "calls" },
        el("thead", {}, el("tr", {},
          el("th", {}, "Call"), el("th", {}, "Flow"), el("th", {}, "Waiting at"),
          el("th", { class: "num" }, "Step"), el("th", { class: "num" }, "Duration"), el("th", {}, "Started"))),
        tbody),
      empty);
    const row = (c) => {
      let r = rows.get(c.call_uuid);
      if (!r) {
        const cells = {
          wait: el("td", { class: "wait mono" }),
          step: el("td", { class: "step num" }),
          duration: el("td", { class: "duration num" }),
        };
        const tr = el("tr", { "data-call": c.call_uuid },
          el("td", { class: "mono" }, el("a", { href: callHref(c.call_uuid) }, c.call_uuid)),
          el("td", {}, el("a", { href: flowHref(c.flow) }, c.flow)),
          cells.wait, cells.step, cells.duration,
          el("td", {}, when(c.started)));
        r = { tr, cells, step: null };
        rows.set(c.call_uuid, r);
      }
      if (r.step !== null && r.step !== c.step) {
        r.tr.classList.remove("moved");
        void r.tr.offsetWidth; // restart the highlight
        r.tr.classList.add("moved");
      }
      r.step = c.step;
      r.cells.wait.textContent = c.wait || "—";
      r.cells.step.textContent = c.step;
      r.cells.duration.textContent = duration(serverNow() - Date.parse(c.started));
      return r.tr;
    };
    const render = () => {
      const calls = [...live.calls.values()].sort((a, b) => (b.started < a.started ? -1 : b.started > a.started ? 1 : a.call_uuid < b.call_uuid ? -1 : 1));
      const shown = calls.slice(0, 500);
      const ids = new Set(shown.map((c) => c.call_uuid));
      for (const id of rows.keys()) if (!ids.has(id)) { rows.get(id).tr.remove(); rows.delete(id); }
      // Append in order: rows already there are moved, not rebuilt, so
      // a focused link keeps its focus.
      shown.forEach((c, i) => {
        const tr = row(c);
        if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null);
      });
      const more = live.total > shown.length;
      empty.hidden = calls.length > 0 && !more;
      empty.textContent = more
        ? "Showing " + shown.length + " of the " + live.total + " live calls: the latest started, and those that moved since this page opened."
        : "No call is live on this flowd right now.";
    };
    onLive(render);
    every(1000, () => {
      for (const [id, r] of rows) {
        const c = live.calls.get(id);
        if (c) r.cells.duration.textContent = duration(serverNow() - Date.parse(c.started));
      }
    });
    render();
  }

  // A call's trace.
  async function callView(id) {
    const gen = show("Call " + id, el("h1", {}, "Call " + id), el("p", { class: "note" }, "Loading…"));
    let s;
    try {
      s = await getJSON("api/calls/" + encodeURIComponent(id));
    } catch (err) {
      return failed(gen, "Call " + id, err);
    }
    if (!current(gen)) return;
    const kv = (m) => el("div", { class: "kv" }, Object.keys(m || {}).sort().map((k) => el("div", {}, k + " = " + m[k])));
    const steps = el("ol", { class: "steps", id: "trace" }, s.trace.map((t) =>
      el("li", { class: "trace-step", "data-step": t.step },
        el("h3", {}, "Step " + t.step + " · " + t.webhook + (t.node ? " from " + t.node : "") + (t.event ? " (" + t.event + ")" : "")),
        el("dl", { class: "facts" },
          el("dt", {}, "At"), el("dd", {}, when(t.at)),
          t.outcome ? [el("dt", {}, "Outcome"), el("dd", { class: "outcome" }, t.outcome)] : null,
          t.path && t.path.length ? [el("dt", {}, "Walked"), el("dd", { class: "path" }, t.path.join(" → "))] : null,
          t.edges && t.edges.length ? [el("dt", {}, "Edges"), el("dd", { class: "mono" }, t.edges.map((e) => e.from + " —" + e.label + "→").join("  "))] : null,
          t.inputs ? [el("dt", {}, "Inputs"), el("dd", { class: "inputs" }, kv(t.inputs))] : null,
          t.requests && t.requests.length ? [el("dt", {}, "Requests"), el("dd", { class: "mono" }, t.requests.map((r) =>
            el("div", {}, r.node + ": " + r.method + " " + r.url + " → " + (r.error || r.status) + " in " + r.ms + " ms")))] : null,
          t.error ? [el("dt", {}, "Error"), el("dd", { class: "error" }, t.error)] : null),
        t.xml ? el("details", { open: true }, el("summary", {}, "XML answered"), el("pre", {}, el("code", {}, t.xml))) : null)));
    const events = s.events && s.events.length
      ? [el("h2", {}, "Events"), el("ol", { class: "steps" }, s.events.map((e) =>
        el("li", { class: "trace-step" }, el("h3", {}, e.kind + " · " + when(e.at)), kv(e.params))))]
      : null;
    fill(
      el("p", { class: "note" }, el("a", { href: "#/calls" }, "← Live calls")),
      el("h1", {}, "Call " + s.call_uuid),
      el("dl", { class: "facts", id: "call-facts" },
        el("dt", {}, "Flow"), el("dd", {}, el("a", { href: flowHref(s.flow) }, s.flow)),
        el("dt", {}, "Version"), el("dd", { class: "mono" }, s.version || "—"),
        el("dt", {}, "Status"), el("dd", {}, el("span", { class: "pill " + s.status }, s.status)),
        el("dt", {}, "Step"), el("dd", {}, String(s.step)),
        el("dt", {}, "Waiting at"), el("dd", { class: "mono" }, s.wait || "—"),
        el("dt", {}, "Started"), el("dd", {}, when(s.started)),
        s.hangup_cause ? [el("dt", {}, "Hangup cause"), el("dd", {}, s.hangup_cause)] : null),
      el("h2", {}, "Trace"),
      s.trace_omitted ? el("p", { class: "note" }, s.trace_omitted + " entries between the first and the latest are left out.") : null,
      steps,
      events);
    // A live call's trace grows: draw it again when the call moves.
    onLive((changedID) => {
      if (changedID === s.call_uuid || changedID === null) {
        const c = live.calls.get(s.call_uuid);
        if (!c || c.step !== s.step) callView(id);
      }
    });
  }

  function route() {
    const h = location.hash || "#/flows";
    if (!h.startsWith("#/")) return;
    const [section, ...rest] = h.slice(2).split("/");
    const arg = rest.length ? decodeURIComponent(rest.join("/")) : "";
    for (const [navID, on] of [["nav-flows", section !== "calls"], ["nav-calls", section === "calls"]]) {
      const a = document.getElementById(navID);
      if (on) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    if (section === "calls" && arg) callView(arg);
    else if (section === "calls") callsView();
    else if (section === "flows" && arg) flowView(arg);
    else flowsView();
  }

  window.addEventListener("hashchange", () => {
    route();
    main.focus();
  });
  connect();
  route();
})();
