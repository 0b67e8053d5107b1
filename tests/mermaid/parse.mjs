// Parse the first ```mermaid block of a Markdown file with Mermaid's own parser and print what it
// read: {"type", "actors": [names], "messages": [{"from", "to", "text"}]}. Exit 1 on a parse error.
import { JSDOM } from "jsdom";
import { readFileSync } from "node:fs";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");

const text = readFileSync(process.argv[2], "utf8");
const block = [...text.matchAll(/```mermaid\n([\s\S]*?)```/g)].map((match) => match[1])[0];
if (block === undefined) {
  console.error("no ```mermaid block");
  process.exit(1);
}
try {
  await mermaid.parse(block);  // loads the diagram types, and throws on a syntax error
  const diagram = await mermaid.mermaidAPI.getDiagramFromText(block);
  const actors = diagram.db.getActors();
  const name = (id) => actors.get(id).description;
  const messages = diagram.db.getMessages().filter((m) => m.from && m.to)
    .map((m) => ({ from: name(m.from), to: name(m.to), text: m.message }));
  console.log(JSON.stringify({ type: diagram.type, actors: [...actors.values()].map((a) => a.description), messages }));
} catch (error) {
  console.error(String(error.message || error));
  process.exit(1);
}
