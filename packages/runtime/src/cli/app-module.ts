import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { ApplicationLike } from "../application.js";
import type { WebsocketServerOptions } from "../server/options.js";
import type { ChannelLayersSettings } from "../settings/registry.js";
import { CommandLineError } from "./command-line-error.js";

/** What `channel-layers serve|runworker <app>` takes from the app module. */
export interface AppModule {
  /** The default export: a ProtocolTypeRouter, a URLRouter, a consumer class... */
  application: ApplicationLike;
  /** The optional `channelLayers` export: CHANNEL_LAYERS, given to configureChannelLayers() before anything runs. */
  channelLayers: ChannelLayersSettings | undefined;
  /** The optional `serverOptions` export: serve()'s options (limits, timeouts, hooks) but host and port. */
  serverOptions: WebsocketServerOptions | undefined;
}

/** Imports the app module (a path, relative to the working directory) and checks its exports. */
export async function loadAppModule(path: string): Promise<AppModule> {
  const file = resolve(path);
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    const missing = (error as { code?: unknown }).code === "ERR_MODULE_NOT_FOUND" && String(error).includes(file);
    if (missing) throw new CommandLineError(`No app module at ${path}`);
    throw error;
  }
  const application = module.default;
  if (typeof application !== "function") {
    throw new CommandLineError(
      `${path} must export its application as the default export (export default ProtocolTypeRouter({...})); got ${typeof application}`,
    );
  }
  const channelLayers = module.channelLayers;
  if (channelLayers !== undefined && (typeof channelLayers !== "object" || channelLayers === null)) {
    throw new CommandLineError(
      `${path} exports channelLayers, which must be { alias: URL | { backend, url, options } }`,
    );
  }
  const serverOptions = module.serverOptions;
  if (serverOptions !== undefined && (typeof serverOptions !== "object" || serverOptions === null)) {
    throw new CommandLineError(`${path} exports serverOptions, which must be serve()'s options object`);
  }
  return {
    application: application as ApplicationLike,
    channelLayers: channelLayers as ChannelLayersSettings | undefined,
    serverOptions: serverOptions as WebsocketServerOptions | undefined,
  };
}
