import { ChannelLayerError } from "@channel-layers/core";

/** Settings name a backend whose package is not installed; `packageName` says what to install. */
export class BackendNotInstalled extends ChannelLayerError {
  readonly packageName: string;

  constructor(backend: string, packageName: string, options?: { cause?: unknown }) {
    super(
      "BACKEND_NOT_INSTALLED",
      `The ${backend} channel layer needs ${packageName}, which is not installed: run \`npm install ${packageName}\` (or pnpm add ${packageName}) in your app`,
      options,
    );
    this.packageName = packageName;
  }
}

/** Whether `error` is the failed import of `packageName` itself (not of something inside it). */
export function isMissingPackage(error: unknown, packageName: string): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : "";
  return (
    (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") &&
    (message.includes(`'${packageName}'`) || message.includes(`"${packageName}"`))
  );
}
