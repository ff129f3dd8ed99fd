#!/usr/bin/python3
# The later §2: the producer-consumer example with a JoinableQueue: each
# consumer marks its tasks done, and the parent joins the queue before it
# reads the results.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Consumer is a Process subclass; its queues are GObject properties, which
# is how they reach the child under every start method.

import time

import gi
gi.require_version('Mproc', '1')
from gi.repository import GLib, GObject, Mproc  # noqa: E402


class Consumer(Mproc.Process):
    task_queue = GObject.Property(type=Mproc.JoinableQueue)
    result_queue = GObject.Property(type=Mproc.Queue)

    def do_run(self):
        proc_name = self.get_name()
        while True:
            next_task = self.task_queue.get()
            if next_task is None:
                # Poison pill means shutdown
                print(f'{proc_name}: Exiting', flush=True)
                self.task_queue.task_done()
                break
            next_task = Task(*next_task)
            print(f'{proc_name}: {next_task}', flush=True)
            answer = next_task()
            self.task_queue.task_done()
            self.result_queue.put(answer)
        return 0


class Task:

    def __init__(self, a, b):
        self.a = a
        self.b = b

    def __call__(self):
        time.sleep(0.1)  # pretend to take some time to do the work
        return f'{self.a} * {self.b} = {self.a * self.b}'

    def __str__(self):
        return f'{self.a} * {self.b}'

    def to_variant(self):
        return GLib.Variant('(xx)', (self.a, self.b))


if __name__ == '__main__':
    Mproc.init()

    # Establish communication queues
    tasks = Mproc.JoinableQueue()
    results = Mproc.Queue()

    # Start consumers
    num_consumers = Mproc.cpu_count() * 2
    print(f'Creating {num_consumers} consumers', flush=True)
    consumers = [Consumer(task_queue=tasks, result_queue=results)
                 for i in range(num_consumers)]
    for w in consumers:
        w.start()

    # Enqueue jobs
    num_jobs = 10
    for i in range(num_jobs):
        tasks.put(Task(i, i))

    # Add a poison pill for each consumer
    for i in range(num_consumers):
        tasks.put(None)

    # Wait for all of the tasks to finish
    tasks.join()

    # Start printing results
    while num_jobs:
        result = results.get()
        print(f'Result: {result}', flush=True)
        num_jobs -= 1

    for w in consumers:
        w.join()
