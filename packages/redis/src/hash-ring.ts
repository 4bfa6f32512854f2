/**
 * channels_redis' shard choice (`_consistent_hash`): CRC32 of the UTF-8 name, masked to 12 bits,
 * scaled onto the ring. Both sides must agree byte for byte, or a Python sender and a Node
 * receiver would use different hosts for one channel.
 */
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE, as Python's binascii.crc32) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) {
    crc = (CRC_TABLE[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** The index of the host of `name` on a ring of `ringSize` hosts, as channels_redis picks it. */
export function consistentHash(name: string, ringSize: number): number {
  if (ringSize === 1) return 0;
  const value = crc32(Buffer.from(name, "utf8")) & 0xfff;
  return Math.trunc(value / (4096 / ringSize));
}
