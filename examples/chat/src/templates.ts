import { readFileSync } from "node:fs";

const TEMPLATES = new URL("../templates/", import.meta.url);
const cache = new Map<string, string>();

/** Django's json_script filter: JSON in a script tag, with <, > and & escaped so it cannot end the tag. */
export function jsonScript(value: unknown, id: string): string {
  const json = JSON.stringify(value).replaceAll("<", "\\u003C").replaceAll(">", "\\u003E").replaceAll("&", "\\u0026");
  return `<script id="${id}" type="application/json">${json}</script>`;
}

/**
 * Django's render() for the few templates here: `{{ name|json_script:"id" }}` is the only tag
 * they use, so that is the only one understood.
 */
export function render(template: string, context: Record<string, unknown> = {}): string {
  let source = cache.get(template);
  if (source === undefined) {
    source = readFileSync(new URL(template, TEMPLATES), "utf8");
    cache.set(template, source);
  }
  return source.replace(/\{\{\s*(\w+)\|json_script:"([^"]+)"\s*\}\}/g, (_tag, name: string, id: string) =>
    jsonScript(context[name], id),
  );
}
