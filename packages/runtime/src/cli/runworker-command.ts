import { type Application, toApplication } from "../application.js";
import type { ChannelNameRouterApplication } from "../routing.js";
import { configureChannelLayers, getChannelLayer } from "../settings/registry.js";
import { configureShutdown } from "../shutdown/coordinator.js";
import { runWorker } from "../worker.js";
import { loadAppModule } from "./app-module.js";

/** `channel-layers runworker <app> <channel>...`: the app's channel consumers on those channels. */
export async function runworkerCommand(options: { app: string; channels: string[]; layer: string }): Promise<void> {
  configureShutdown({ exitOnShutdown: true });
  const module = await loadAppModule(options.app);
  if (module.channelLayers !== undefined) configureChannelLayers(module.channelLayers);
  const application = toApplication(module.application);
  // The application routes "channel" scopes itself (ProtocolTypeRouter, ChannelNameRouter); the command line names the channels.
  const routed: Application = (scope, receive, send) => application(scope, receive, send);
  const router: ChannelNameRouterApplication = Object.assign(routed, { channels: options.channels });
  const channelLayer = await getChannelLayer(options.layer);
  const worker = await runWorker(router, { channelLayer });
  console.log(
    `Worker on ${options.channels.join(", ")} (layer ${options.layer}: ${channelLayer.constructor.name}, pid ${process.pid})`,
  );
  await worker.done;
  if (!worker.stopped) {
    console.error("channel-layers: every channel's consumer failed (see above); exiting");
    process.exit(1);
  }
}
