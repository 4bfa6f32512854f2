/** A compiled route: matches the start (or, for endpoints, the whole) of the remaining path. */
export interface RoutePattern {
  /** What the route was written as, for messages. */
  readonly source: string;
  /** The rest of the path, unnamed groups and named groups; undefined when it does not match. */
  match(path: string): { rest: string; args: string[]; kwargs: Record<string, string> } | undefined;
}

/** Django's path converters: what `<int:id>`, `<slug:name>`... accept. */
const CONVERTERS: Record<string, string> = {
  str: "[^/]+",
  int: "[0-9]+",
  slug: "[-a-zA-Z0-9_]+",
  uuid: "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
  path: ".+",
};

const PARAMETER = /<(?:(?<converter>[^>:]+):)?(?<name>[^>]+)>/g;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Django's `path()` syntax: "ws/chat/<str:room_name>/" (converters str, int, slug, uuid, path;
 * no converter means str). An endpoint must match the whole remaining path; a route leading to a
 * nested router matches a prefix.
 */
export function compilePath(route: string, endpoint: boolean): RoutePattern {
  if (route.startsWith("/")) {
    throw new TypeError(
      `Route ${JSON.stringify(route)} starts with "/": routes match the path without its leading slash`,
    );
  }
  let pattern = "^";
  let last = 0;
  for (const found of route.matchAll(PARAMETER)) {
    const { converter = "str", name = "" } = found.groups ?? {};
    const expression = CONVERTERS[converter];
    if (expression === undefined) {
      throw new TypeError(
        `Route ${JSON.stringify(route)} uses converter "${converter}"; known ones are ${Object.keys(CONVERTERS).join(", ")}`,
      );
    }
    if (!IDENTIFIER.test(name)) throw new TypeError(`Route ${JSON.stringify(route)}: "${name}" is not a valid name`);
    pattern += `${escapeRegExp(route.slice(last, found.index))}(?<${name}>${expression})`;
    last = found.index + found[0].length;
  }
  pattern += escapeRegExp(route.slice(last));
  return fromRegExp(new RegExp(endpoint ? `${pattern}$` : pattern), route, endpoint);
}

/**
 * Django's `re_path()`: a regular expression with named groups, searched in the remaining path as
 * Django does. Python's `(?P<name>...)` is accepted as well as JavaScript's `(?<name>...)`.
 */
export function compileRegExp(route: string | RegExp, endpoint: boolean): RoutePattern {
  const source = typeof route === "string" ? route : route.source;
  const regexp = typeof route === "string" ? new RegExp(route.replaceAll("(?P<", "(?<")) : route;
  return fromRegExp(regexp, source, endpoint);
}

function fromRegExp(regexp: RegExp, source: string, endpoint: boolean): RoutePattern {
  // Django: an endpoint whose pattern ends with "$" must match the whole path (fullmatch).
  const full = endpoint && regexp.source.endsWith("$") ? new RegExp(`^(?:${regexp.source})`, regexp.flags) : regexp;
  const searching = full.global || full.sticky ? new RegExp(full.source, full.flags.replace(/[gy]/g, "")) : full;
  return {
    source,
    match(path) {
      const found = searching.exec(path);
      if (found === null) return undefined;
      const named = found.groups;
      const kwargs: Record<string, string> = {};
      let hasNamed = false;
      if (named !== undefined) {
        for (const key of Object.keys(named)) {
          hasNamed = true;
          const value = named[key];
          if (value !== undefined) kwargs[key] = value;
        }
      }
      // As Django: unnamed groups count only when there are no named ones.
      const args = hasNamed ? [] : found.slice(1).filter((value): value is string => value !== undefined);
      return { rest: path.slice(found.index + found[0].length), args, kwargs };
    },
  };
}
