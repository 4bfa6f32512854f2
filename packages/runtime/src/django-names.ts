/**
 * Methods Channels calls that this runtime calls by another name: defined on a consumer, they
 * would never run, silently. Each maps to what to write instead.
 */
const DJANGO_NAMES: Record<string, string> = {
  receive_json: "receiveJson(content)",
  websocket_receive_json: "receiveJson(content)",
  decode_json: "static decodeJson(text)",
  encode_json: "static encodeJson(content)",
};

/** Names that only a JsonWebsocketConsumer calls. */
const JSON_ONLY: Record<string, string> = {
  receiveJson: "extend JsonWebsocketConsumer, which calls receiveJson(content) with each decoded frame",
};

const checked = new WeakSet<object>();
/** Prototypes of the runtime's own classes: their methods are ours, not the user's. */
const runtimePrototypes = new WeakSet<object>();

/** Marks a runtime base class, so the check stops there. */
export function markRuntimePrototype(prototype: object): void {
  runtimePrototypes.add(prototype);
}

/** Every method and field name a consumer's own classes (and the instance) define. */
function definedNames(consumer: object): Set<string> {
  const names = new Set(Object.keys(consumer));
  for (
    let prototype = Object.getPrototypeOf(consumer) as object | null;
    prototype !== null && !runtimePrototypes.has(prototype);
    prototype = Object.getPrototypeOf(prototype) as object | null
  ) {
    for (const name of Object.getOwnPropertyNames(prototype)) names.add(name);
  }
  return names;
}

/**
 * Warns once per consumer class (a Node process warning, visible by default) about each method
 * it defines under a name Channels would call but this runtime never does.
 */
export function warnAboutDjangoNames(consumer: object, isJsonConsumer: boolean): void {
  const consumerClass = consumer.constructor as { name: string; prototype: object };
  if (checked.has(consumerClass)) return;
  checked.add(consumerClass);
  const names = definedNames(consumer);
  const className = consumerClass.name || "A consumer";
  for (const [name, instead] of Object.entries(DJANGO_NAMES)) {
    if (!names.has(name)) continue;
    process.emitWarning(
      `${className} defines ${name}(), which Channels calls but this runtime never does: define ${instead} instead`,
      { type: "ChannelLayersWarning", code: "CHANNEL_LAYERS_DJANGO_NAME" },
    );
  }
  // Channels' receive(self, text_data=None, bytes_data=None): here one argument carries either.
  const receive = (consumer as { receive?: unknown }).receive;
  if (names.has("receive") && typeof receive === "function" && receive.length >= 2) {
    process.emitWarning(
      `${className} defines receive() with ${receive.length} parameters, as Channels' receive(text_data, bytes_data): here receive(data) gets one, a string for a text frame or a Uint8Array for a binary one`,
      { type: "ChannelLayersWarning", code: "CHANNEL_LAYERS_DJANGO_NAME" },
    );
  }
  if (isJsonConsumer) return;
  for (const [name, advice] of Object.entries(JSON_ONLY)) {
    if (!names.has(name)) continue;
    process.emitWarning(`${className} defines ${name}(), which is never called here: ${advice}`, {
      type: "ChannelLayersWarning",
      code: "CHANNEL_LAYERS_DJANGO_NAME",
    });
  }
}
