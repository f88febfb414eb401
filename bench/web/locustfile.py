"""The load of ``bench_web.py``: 50 users with 1 s think time. Officers of the big firm on its
dashboard, receipts list and month page; its bank's reviewer (signed in past the second
factor) on the review queue and the bank's slice of the dashboard; visitors on the login
page (the floor). The paths and the signed-in sessions come from ``BENCH_WEB_CONFIG``."""

import itertools
import json
import os
from pathlib import Path

from locust import HttpUser, constant, task

CONFIG = json.loads(Path(os.environ["BENCH_WEB_CONFIG"]).read_text())
PATHS = {name: path for name, (_, path) in CONFIG["paths"].items()}
SESSIONS = {who: itertools.cycle(keys) for who, keys in CONFIG["sessions"].items()}


class Signed(HttpUser):
    abstract = True
    wait_time = constant(1)
    who = ""

    def on_start(self):
        self.client.cookies.set(CONFIG["cookie"], next(SESSIONS[self.who]))

    def page(self, name: str) -> None:
        with self.client.get(PATHS[name], name=name, catch_response=True) as response:
            if response.status_code != 200 or response.history:
                response.failure(f"{response.status_code} after {len(response.history)} redirects")


class Officer(Signed):
    fixed_count = 30
    who = "officer"

    @task
    def dashboard(self):
        self.page("dashboard")

    @task
    def receipts(self):
        self.page("receipts list")

    @task
    def month(self):
        self.page("month page")


class Reviewer(Signed):
    fixed_count = 15
    who = "reviewer"

    @task(2)
    def queue(self):
        self.page("review queue")

    @task
    def dashboard(self):
        self.page("dashboard (bank slice)")


class Visitor(HttpUser):
    fixed_count = 5
    wait_time = constant(1)

    @task
    def login(self):
        self.client.get(PATHS["login"], name="login")
