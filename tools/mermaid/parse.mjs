// parse.mjs checks Mermaid diagrams with Mermaid's own parser, as a
// browser would run it: node parse.mjs FILE... (or one diagram on stdin).
// It prints one line per diagram and exits 1 if any does not parse.
//
// flowd's tests run it on `flowd graph --format mermaid` output. Set up
// with: npm ci --prefix tools/mermaid
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

// Mermaid sanitises labels with DOMPurify, which needs a DOM.
const dom = new JSDOM("<!DOCTYPE html><html><body></body></html>", { pretendToBeVisual: true });
globalThis.window = dom.window;
globalThis.document = dom.window.document;
for (const name of ["DOMParser", "Element", "HTMLElement", "Node", "NodeFilter", "DocumentFragment", "SVGElement"]) {
  if (!(name in globalThis)) globalThis[name] = dom.window[name];
}

const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });

const files = process.argv.slice(2);
const inputs = files.length > 0
  ? files.map((f) => [f, readFileSync(f, "utf8")])
  : [["<stdin>", readFileSync(0, "utf8")]];

let failed = 0;
for (const [name, text] of inputs) {
  try {
    const res = await mermaid.parse(text);
    console.log(`ok ${name} (${res.diagramType})`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${name}: ${String(err && err.message ? err.message : err).trim()}`);
  }
}
process.exit(failed > 0 ? 1 : 0);
