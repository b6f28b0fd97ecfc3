import { setFlagsFromString } from 'node:v8';

// V8's own check that two objects have one hidden class (map). Natives syntax is allowed for functions compiled
// after the flag is set, so the check is compiled here, once.
setFlagsFromString('--allow-natives-syntax');

/** Whether V8 gives `a` and `b` one hidden class: objects built the same way should. */
export const haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;
