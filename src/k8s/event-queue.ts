// Pod Events leave through one bounded queue, written one at a time: an Event is a record for
// people, never on a decision's critical path, and a burst of binds must not open one request per
// Event beside its own. client-go's recorder is the model (tools/record/event.go, v0.37: a queue
// of maxQueuedEvents = 1000 written by one goroutine per sink, DropIfChannelFull).

/** The queue was full: this Event was not written. */
export class EventQueueFull extends Error {
  override readonly name = "EventQueueFull";
}

export const EVENT_QUEUE_CAPACITY = 1_000;

interface Job {
  write: () => Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface EventQueueOptions {
  capacity?: number;
}

export class EventQueue {
  private readonly jobs: Job[] = [];
  private head = 0;
  private running = false;
  private readonly capacity: number;

  constructor(options: EventQueueOptions = {}) {
    this.capacity = options.capacity ?? EVENT_QUEUE_CAPACITY;
  }

  /** Settles once `write` ran (with its outcome), or at once with EventQueueFull when `capacity`
   * Events already wait (the one being written does not count). */
  push(write: () => Promise<void>): Promise<void> {
    if (this.jobs.length - this.head >= this.capacity)
      return Promise.reject(
        new EventQueueFull(
          `${this.capacity} pod Events are waiting to be written; this one is dropped`,
        ),
      );
    return new Promise<void>((resolve, reject) => {
      this.jobs.push({ write, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.head < this.jobs.length) {
      const job = this.jobs[this.head++] as Job;
      await job.write().then(job.resolve, job.reject);
      if (this.head > 1024 && this.head * 2 > this.jobs.length) {
        this.jobs.splice(0, this.head);
        this.head = 0;
      }
    }
    this.jobs.length = 0;
    this.head = 0;
    this.running = false;
  }
}
