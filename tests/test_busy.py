"""The measure of what other programs take of the machine, which timing tests skip on."""

import subprocess
import sys

from tests.busy import others_cores


def test_a_busy_program_outside_the_test_run_counts_and_the_run_s_own_work_does_not():
    own = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # a child: this run's own work
    try:
        alone = others_cores(1.0)
    finally:
        own.kill()
    # a program outside this run's process tree (started detached, its parent gone): another program's load
    outside = subprocess.run(["sh", "-c", f"{sys.executable} -c 'import time\nt=time.time()\nwhile time.time()-t<3: pass' "
                              "> /dev/null 2>&1 & echo $!"], capture_output=True, text=True)
    try:
        busy = others_cores(1.0)
    finally:
        subprocess.run(["kill", outside.stdout.strip()])
    assert busy > alone + 0.3, (alone, busy)  # a core busy outside; the own child (a core too) not counted
