import type { IncomingMessage, ServerResponse } from "node:http";
import { getChannelLayer, type HttpHandler } from "@channel-layers/runtime";
import { clientModules } from "./client-modules.js";
import { crossSiteRefusal } from "./csrf.js";
import { NOTIFICATION_LIMITS, rememberNotification } from "./notifications.js";
import type { Settings } from "./settings.js";
import { render } from "./templates.js";

type View = (request: IncomingMessage, response: ServerResponse, ...parameters: string[]) => Promise<void> | void;

/** A body holds one notification and its `{"data": ...}` around it. */
const MAX_BODY_BYTES = NOTIFICATION_LIMITS.maxEntryBytes + 1024;
/** Group names are shorter than 100 characters; the route already allows only \w. */
const MAX_CENTER_LENGTH = 99;

function html(response: ServerResponse, body: string): void {
  response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  response.end(body);
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

/** The body, or undefined as soon as it passes MAX_BODY_BYTES (the rest is not read). */
async function readBody(request: IncomingMessage): Promise<string | undefined> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function isJsonContentType(header: string | undefined): boolean {
  return header?.split(";")[0]?.trim().toLowerCase() === "application/json";
}

/** `{"data": <JSON value>}`'s data, or why the body is not that. */
function parseNotification(body: string): { data: unknown } | { problem: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { problem: "The body is not JSON" };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed) || !("data" in parsed)) {
    return { problem: 'Send an object with the notification as "data"' };
  }
  return { data: parsed.data };
}

/** chat/views.py and urls.py, plus the pages of the echo and notification consumers. */
export function createHttpHandler(settings: Pick<Settings, "csrfTrustedOrigins">): HttpHandler {
  const index: View = (_request, response) => html(response, render("chat/index.html"));
  const room: View = (_request, response, roomName = "") =>
    html(response, render("chat/room.html", { room_name: roomName }));
  const echo: View = (_request, response) => html(response, render("app/exam.html"));

  /** /static/client/<file>.js: @channel-layers/client for the room page's module script. */
  const clientModule: View = async (request, response, file = "") => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    const code = (await clientModules()).get(file);
    if (code === undefined) {
      response.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("Not found");
      return;
    }
    response.writeHead(200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache" });
    response.end(request.method === "HEAD" ? undefined : code);
  };

  /**
   * GET: the center's page. POST {"data": ...} (JSON, from this site or no browser): group-sends
   * the notification to every socket of the center, then keeps it for sockets that connect later.
   * Everything is checked before anything is sent or kept.
   */
  const notification: View = async (request, response, centerName = "") => {
    if (request.method === "GET" || request.method === "HEAD") {
      return html(response, render("notification/center.html", { center_name: centerName }));
    }
    if (request.method !== "POST") {
      response.writeHead(405, { allow: "GET, HEAD, POST" }).end();
      return;
    }
    const crossSite = crossSiteRefusal(request, settings.csrfTrustedOrigins);
    if (crossSite !== undefined) return json(response, 403, { error: `CSRF check failed: ${crossSite}` });
    if (!isJsonContentType(request.headers["content-type"])) {
      return json(response, 415, { error: "Send the notification as Content-Type: application/json" });
    }
    if (centerName.length > MAX_CENTER_LENGTH) {
      return json(response, 400, { error: `A center name has at most ${MAX_CENTER_LENGTH} characters` });
    }
    const body = await readBody(request);
    if (body === undefined) return json(response, 413, { error: `Body over ${MAX_BODY_BYTES} bytes` });
    const parsed = parseNotification(body);
    if ("problem" in parsed) return json(response, 400, { error: parsed.problem });
    const bytes = Buffer.byteLength(JSON.stringify(parsed.data));
    if (bytes > NOTIFICATION_LIMITS.maxEntryBytes) {
      return json(response, 413, {
        error: `A notification has at most ${NOTIFICATION_LIMITS.maxEntryBytes} bytes of JSON`,
      });
    }
    const layer = await getChannelLayer();
    await layer.groupSend(centerName, { type: "notify", data: parsed.data });
    rememberNotification(centerName, parsed.data, bytes);
    json(response, 202, { sent: true });
  };

  const urlpatterns: [RegExp, View][] = [
    [/^\/$/, (_request, response) => void response.writeHead(302, { location: "/chat/" }).end()],
    [/^\/chat\/$/, index],
    [/^\/chat\/([^/]+)\/$/, room],
    [/^\/echo\/$/, echo],
    [/^\/notification\/(\w+)\/$/, notification],
    [/^\/static\/client\/([\w-]+\.js)$/, clientModule],
  ];

  const resolve = (path: string) => {
    for (const [pattern, view] of urlpatterns) {
      const found = pattern.exec(path);
      if (found) return { view, parameters: found.slice(1) };
    }
    return undefined;
  };

  return (request, response) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      path = url.pathname;
    }
    const match = resolve(path);
    if (match === undefined) {
      // Django's APPEND_SLASH.
      if (!path.endsWith("/") && resolve(`${path}/`) !== undefined) {
        response.writeHead(301, { location: `${url.pathname}/${url.search}` }).end();
        return;
      }
      response.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("Not found");
      return;
    }
    Promise.resolve(match.view(request, response, ...(match.parameters as string[]))).catch((error: unknown) => {
      console.error(`${request.method} ${path} failed:`, error);
      if (!response.headersSent) json(response, 500, { error: "Internal error" });
      else response.destroy();
    });
  };
}
