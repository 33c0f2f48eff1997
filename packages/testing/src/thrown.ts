/*
 * Tests that assert on the fields of a typed error (its `reason`, its `value`) first need the
 * error itself: these catch it, check its class, and fail the test when nothing was thrown.
 */

// Any error class, abstract or not, whatever its constructor takes.
type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;

function ofKind<E extends Error>(kind: ErrorClass<E>, error: unknown): E {
  if (error instanceof kind) return error;
  throw error;
}

/** The error `act` throws, which must be a `kind`; any other error propagates unchanged. */
export function thrown<E extends Error>(kind: ErrorClass<E>, act: () => unknown): E {
  try {
    act();
  } catch (error) {
    return ofKind(kind, error);
  }
  throw new Error(`expected ${kind.name} to be thrown`);
}

/** `thrown` for an asynchronous `act`: the error it throws or rejects with, which must be a `kind`. */
export async function rejected<E extends Error>(kind: ErrorClass<E>, act: () => Promise<unknown>): Promise<E> {
  try {
    await act();
  } catch (error) {
    return ofKind(kind, error);
  }
  throw new Error(`expected ${kind.name} to be rejected`);
}
