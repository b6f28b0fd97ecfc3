// Internal: not exported from any entry point.

/** `T` with its `readonly` modifiers removed: for a result built field by field before it is returned as `T`. */
export type Writable<T> = { -readonly [K in keyof T]: T[K] };
