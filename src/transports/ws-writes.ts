/**
 * How a WebSocket connection writes a published batch: corked for the tick,
 * so a batch of frames goes out in one writev instead of one write each, and
 * a paced replay waits until the socket has drained to half its allowance.
 */
import type { Socket } from 'node:net';
import type WebSocket from 'ws';

/** How often a paced backlog replay looks whether the socket drained. */
const DRAIN_POLL_MS = 5;

/** Corks the socket under `raw` until the end of this tick, once per tick. */
export class TickCork {
  private corked = false;

  cork(raw: WebSocket): void {
    if (this.corked) return;
    // ws exposes no cork of its own; its socket is the net.Socket underneath.
    const socket = (raw as unknown as { _socket: Socket })._socket;
    this.corked = true;
    socket.cork();
    process.nextTick(() => {
      this.corked = false;
      socket.uncork();
    });
  }
}

/** Null when `raw` holds at most `low` unsent bytes; else resolves once it does, or once `gone()`. */
export function drained(raw: WebSocket, low: number, gone: () => boolean): Promise<void> | null {
  if (raw.bufferedAmount <= low) return null;
  return new Promise((resolve) => {
    const check = () => (gone() || raw.bufferedAmount <= low ? resolve() : setTimeout(check, DRAIN_POLL_MS));
    setTimeout(check, DRAIN_POLL_MS);
  });
}
