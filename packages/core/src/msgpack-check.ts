import { InvalidMessage } from "./errors.js";

/** Containers nested deeper than a valid message can be (see message.ts) are refused before decoding. */
const MAX_CONTAINERS = 101;
const INT64_MAX_HIGH_WORD = 0x7fffffff;

function refuse(problem: string): never {
  throw new InvalidMessage(`Received MessagePack that ${problem}`);
}

/**
 * Throws InvalidMessage unless encoded MessagePack holds only what a valid message encodes to.
 * msgpackr's unpack turns extension types (timestamps, its Set/RegExp/Error/record extensions)
 * into objects no sender could have sent, whatever the Packr options, so they are refused first.
 */
export function checkMessagePack(bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.byteLength;
  // One frame per open container: values still to read (map entries count twice), whether it
  // is a map, and whether its next value is a key. The first frame holds the message itself.
  const remaining: number[] = [1];
  const isMapFrame: boolean[] = [false];
  const keyNext: boolean[] = [false];
  let position = 0;
  const need = (count: number) => {
    if (position + count > end) refuse("is cut short");
  };
  while (remaining.length > 0) {
    const top = remaining.length - 1;
    if (remaining[top] === 0) {
      remaining.pop();
      isMapFrame.pop();
      keyNext.pop();
      continue;
    }
    remaining[top] = (remaining[top] as number) - 1;
    const isKey = keyNext[top] === true;
    if (isMapFrame[top]) keyNext[top] = !isKey;
    need(1);
    const token = bytes[position++] as number;
    let length = -1;
    let container = 0;
    let isMap = false;
    if (token <= 0x7f || token >= 0xe0) length = 0;
    else if (token <= 0x8f) {
      container = (token & 0x0f) * 2;
      isMap = true;
    } else if (token <= 0x9f) container = token & 0x0f;
    else if (token <= 0xbf) length = token & 0x1f;
    else {
      switch (token) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
          length = 0;
          break;
        case 0xc4:
        case 0xd9:
          need(1);
          length = view.getUint8(position);
          position += 1;
          break;
        case 0xc5:
        case 0xda:
          need(2);
          length = view.getUint16(position);
          position += 2;
          break;
        case 0xc6:
        case 0xdb:
          need(4);
          length = view.getUint32(position);
          position += 4;
          break;
        case 0xca:
          need(4);
          if (!Number.isFinite(view.getFloat32(position))) refuse("holds a float that is NaN or infinite");
          length = 4;
          break;
        case 0xcb:
          need(8);
          if (!Number.isFinite(view.getFloat64(position))) refuse("holds a float that is NaN or infinite");
          length = 8;
          break;
        case 0xcc:
        case 0xd0:
          length = 1;
          break;
        case 0xcd:
        case 0xd1:
          length = 2;
          break;
        case 0xce:
        case 0xd2:
          length = 4;
          break;
        case 0xcf:
          need(8);
          if (view.getUint32(position) > INT64_MAX_HIGH_WORD) refuse("holds an integer above 2^63-1");
          length = 8;
          break;
        case 0xd3:
          length = 8;
          break;
        case 0xdc:
          need(2);
          container = view.getUint16(position);
          position += 2;
          break;
        case 0xdd:
          need(4);
          container = view.getUint32(position);
          position += 4;
          break;
        case 0xde:
          need(2);
          container = view.getUint16(position) * 2;
          isMap = true;
          position += 2;
          break;
        case 0xdf:
          need(4);
          container = view.getUint32(position) * 2;
          isMap = true;
          position += 4;
          break;
        default:
          // 0xc1 (never used) and the extension types 0xc7-0xc9, 0xd4-0xd8.
          refuse(`holds type 0x${token.toString(16)} (an extension type such as a timestamp, or a reserved byte)`);
      }
    }
    const isString = (token >= 0xa0 && token <= 0xbf) || (token >= 0xd9 && token <= 0xdb);
    if (isKey && !isString) refuse("has a map key that is not a string");
    if (top === 0 && !isMap) refuse("is not a map");
    if (length >= 0) {
      need(length);
      position += length;
      continue;
    }
    // The message itself sits in the first frame, so a message at MAX_DEPTH has that many + 2 frames.
    if (remaining.length > MAX_CONTAINERS) refuse(`nests deeper than ${MAX_CONTAINERS - 1} levels`);
    remaining.push(container);
    isMapFrame.push(isMap);
    keyNext.push(isMap);
  }
  if (position !== end) refuse("has bytes after the message");
}
