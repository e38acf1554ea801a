/**
 * The order of one connection's messages around `auth`: verifying a token
 * takes a while, and every message sent after an `auth` must be judged by its
 * token. From an `auth` on, messages run one after another until every `auth`
 * so far is applied; otherwise each runs at once.
 */
export class AuthOrder {
  private chain: Promise<void> = Promise.resolve();
  private authsPending = 0;

  constructor(private readonly failed: (error: unknown) => void) {}

  /** Runs `handle` now, or once the `auth`s sent before it are applied; `isAuth`: this message is one. */
  run(isAuth: boolean, handle: () => Promise<void>): void {
    const handled = () => handle().catch(this.failed);
    if (!isAuth && this.authsPending === 0) {
      void handled();
      return;
    }
    if (isAuth) this.authsPending += 1;
    this.chain = this.chain.then(handled).finally(() => {
      if (isAuth) this.authsPending -= 1;
    });
  }
}
