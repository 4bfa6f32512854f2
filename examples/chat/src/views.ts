import type { IncomingMessage, ServerResponse } from "node:http";
import type { ChannelLayer } from "@channel-layers/core";
import type { HttpHandler } from "@channel-layers/runtime";
import { rememberNotification } from "./notifications.js";
import { render } from "./templates.js";

type View = (request: IncomingMessage, response: ServerResponse, ...parameters: string[]) => Promise<void> | void;

const MAX_BODY_BYTES = 64 * 1024;

function html(response: ServerResponse, body: string): void {
  response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  response.end(body);
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

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

/** chat/views.py and urls.py, plus the pages of the echo and notification seeds. */
export function createHttpHandler(layer: ChannelLayer): HttpHandler {
  const index: View = (_request, response) => html(response, render("chat/index.html"));
  const room: View = (_request, response, roomName = "") =>
    html(response, render("chat/room.html", { room_name: roomName }));
  const echo: View = (_request, response) => html(response, render("app/exam.html"));

  /** GET: the center's page. POST {"data": ...}: group-sends a notification to every socket of the center. */
  const notification: View = async (request, response, centerName = "") => {
    if (request.method !== "POST")
      return html(response, render("notification/center.html", { center_name: centerName }));
    const body = await readBody(request);
    if (body === undefined) return json(response, 413, { error: `Body over ${MAX_BODY_BYTES} bytes` });
    let data: unknown = body;
    if (request.headers["content-type"]?.startsWith("application/json")) {
      try {
        data = (JSON.parse(body) as { data?: unknown }).data;
      } catch {
        return json(response, 400, { error: 'Send JSON like {"data": "..."}' });
      }
    }
    rememberNotification(centerName, data);
    await layer.groupSend(centerName, { type: "notify", data });
    json(response, 202, { sent: true });
  };

  const urlpatterns: [RegExp, View][] = [
    [/^\/$/, (_request, response) => void response.writeHead(302, { location: "/chat/" }).end()],
    [/^\/chat\/$/, index],
    [/^\/chat\/([^/]+)\/$/, room],
    [/^\/echo\/$/, echo],
    [/^\/notification\/(\w+)\/$/, notification],
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
