// A JSON body as the tests read it: indexed freely, its shape checked by the assertions.
export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- the assertions check the shape
