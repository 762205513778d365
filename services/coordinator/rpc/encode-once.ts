interface MessageCodec<T> {
  encode(message: T): { finish(): Uint8Array };
  fromPartial(object: T): T;
}

/**
 * A codec that encodes each message *object* once and hands the same bytes to every later
 * caller. Watch sends one WatchResponse object per change to every watcher; nice-grpc would
 * otherwise deep-copy (fromPartial) and encode it once per watcher, which is most of the
 * cost of fanning a change out to hundreds of streams. Objects are keys of a WeakMap, so
 * the bytes live exactly as long as the change does.
 */
export function encodeOnce<T extends object, C extends MessageCodec<T>>(codec: C): C {
  const encoded = new WeakMap<T, Uint8Array>();
  return {
    ...codec,
    // The response is already whole (and is not to be copied): identity, then cached encode.
    fromPartial: (message: T) => message,
    encode(message: T) {
      let bytes = encoded.get(message);
      if (!bytes) {
        bytes = codec.encode(codec.fromPartial(message)).finish();
        encoded.set(message, bytes);
      }
      const done = bytes;
      return { finish: () => done };
    },
  };
}
