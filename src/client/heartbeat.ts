/**
 * Application-level liveness: a browser cannot see the server's WebSocket
 * pings, and a peer that vanished without a FIN never closes the socket. So
 * the client pings on the server's heartbeat, and a server that sent nothing
 * at all between one ping and the next tick is given up on. Counting ticks
 * rather than elapsed time keeps throttled background tabs from false alarms.
 */
export class Heartbeat {
  private awaitingAnswer = false;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(intervalMs: number, ping: () => void, dead: () => void) {
    this.timer = setInterval(() => {
      if (this.awaitingAnswer) {
        this.stop();
        dead();
        return;
      }
      this.awaitingAnswer = true;
      ping();
    }, intervalMs);
  }

  /** Any frame from the server proves it alive. */
  heard(): void {
    this.awaitingAnswer = false;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
