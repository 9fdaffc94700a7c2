"""Fault plans: the run-time switches behind the S3 Vectors emulator's and the Lambda service's faults.

A plan per target (an operation or a function name, or "*" for every target without an active plan of its
own) decides, call by call, whether to inject: always, with a probability drawn from a seeded RNG, or by a
schedule consumed in order, bounded by `next` and `count`. An injected call first waits `delay_ms`.

This module validates plan documents (errors name the field), keeps the plans and their counters under
one lock, takes the decisions and serves the control requests. Each service's FaultInjector subclasses
FaultPlans and says what is specific to it: the name of the target and effect fields, the effects that
exist, which targets are valid, the errors it answers, and what an injection does.
"""

from __future__ import annotations

import json
import random
import threading
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import parse_qs

# Both services route their own API elsewhere: a leading underscore can never be one of their paths.
CONTROL_PATH = "/_s3vl/faults"
# A delay longer than any caller's timeout is a hang, not a slow service.
MAX_DELAY_MS = 600_000
_SHARED_FIELDS = ("delay_ms", "rate", "seed", "schedule", "next", "count")
_SELECTORS = ("rate", "schedule", "next")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class _Plan:
    spec: dict[str, Any]  # the plan as set, normalised (all fields, seed filled in), reported by state()
    schedule: list[bool] | None
    rng: random.Random | None
    position: int = 0
    calls: int = 0
    injected: int = 0

    @property
    def exhausted(self) -> bool:
        count, next_n = self.spec["count"], self.spec["next"]
        if count is not None and self.injected >= count:
            return True
        if next_n is not None and self.calls >= next_n:
            return True
        return self.schedule is not None and self.position >= len(self.schedule)

    def decide(self) -> bool:
        self.calls += 1
        if self.schedule is not None:
            hit = self.schedule[self.position]
            self.position += 1
        elif self.rng is not None:
            hit = self.rng.random() < self.spec["rate"]
        else:
            hit = True
        if hit:
            self.injected += 1
        return hit

    def describe(self) -> dict[str, Any]:
        return {**self.spec, "calls": self.calls, "injected": self.injected, "exhausted": self.exhausted}


class FaultPlans(ABC):
    """The active fault plans of one service and the count of faults injected per target; thread-safe."""

    TARGET: ClassVar[str]  # the field naming what a plan applies to ("operation", "function")
    EFFECT: ClassVar[str]  # the field naming what an injection does ("error", "fault")
    EFFECTS: ClassVar[tuple[str, ...]]
    EXTRA_FIELDS: ClassVar[tuple[str, ...]] = ()  # service-specific fields, checked by check_extra
    DOCS: ClassVar[str]  # where a refused plan's message points to

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plans: dict[str, _Plan] = {}
        self._injected: Counter[str] = Counter()
        self._interrupted = threading.Event()

    # What each service says about itself.

    @abstractmethod
    def is_target(self, name: str) -> bool:
        """Whether `name` (not "*") is something this service can fault."""

    @abstractmethod
    def target_kind(self) -> str:
        """What a valid target is, for the message refusing an invalid one."""

    @abstractmethod
    def plan_error(self, path: str, problem: str, message: str) -> Exception:
        """The error for a refused plan; `path` names the field, `message` says the whole of it."""

    @abstractmethod
    def request_error(self, message: str) -> Exception:
        """The error for a control request to an unknown path or with an unsupported method."""

    @abstractmethod
    def json_error(self, error: ValueError) -> Exception:
        """The error for a plan document that is not valid JSON."""

    @abstractmethod
    def stopping_error(self) -> Exception:
        """What a delayed call answers when the service stops while it waits."""

    def check_extra(self, spec: dict[str, Any], prefix: str) -> None:  # noqa: B027 (optional: no extras)
        """Validate the EXTRA_FIELDS of a plan (raise self.invalid)."""

    # Plans.

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.TARGET, self.EFFECT, *_SHARED_FIELDS, *self.EXTRA_FIELDS)

    def invalid(self, path: str, problem: str) -> Exception:
        return self.plan_error(
            path,
            problem,
            f"Invalid fault plan: '{path}' {problem}. "
            f"A plan is a JSON object with fields {', '.join(self.fields)}; see {self.DOCS}",
        )

    def parse_plan(self, value: Any, prefix: str = "") -> _Plan:
        """Validate one plan (a JSON object); errors name the field as `<prefix><field>`."""
        if not isinstance(value, dict):
            raise self.invalid(prefix.rstrip(".") or "/", "must be a JSON object")
        for name in value:
            if name not in self.fields:
                raise self.invalid(f"{prefix}{name}", "is not a fault plan field")
        spec: dict[str, Any] = {name: value.get(name) for name in self.fields}
        target, effect = spec[self.TARGET], spec[self.EFFECT]
        if not isinstance(target, str) or (target != "*" and not self.is_target(target)):
            raise self.invalid(
                f"{prefix}{self.TARGET}", f'must be "*" or {self.target_kind()}, got {target!r}'
            )
        if effect is not None and effect not in self.EFFECTS:
            raise self.invalid(
                f"{prefix}{self.EFFECT}", f"must be one of {', '.join(self.EFFECTS)}, got {effect!r}"
            )
        delay = spec["delay_ms"] if spec["delay_ms"] is not None else 0
        if not _is_number(delay) or not 0 <= delay <= MAX_DELAY_MS:
            raise self.invalid(
                f"{prefix}delay_ms", f"must be milliseconds from 0 to {MAX_DELAY_MS}, got {delay!r}"
            )
        spec["delay_ms"] = delay
        given = [name for name in _SELECTORS if spec[name] is not None]
        if len(given) > 1:
            raise self.invalid(
                f"{prefix}{given[1]}", f"cannot be combined with '{given[0]}': choose one selection"
            )
        rate, seed, schedule, next_n = spec["rate"], spec["seed"], spec["schedule"], spec["next"]
        if rate is not None and (not _is_number(rate) or not 0 <= rate <= 1):
            raise self.invalid(f"{prefix}rate", f"must be a probability between 0 and 1, got {rate!r}")
        if seed is not None and rate is None:
            raise self.invalid(f"{prefix}seed", "applies only to 'rate'")
        if seed is not None and not _is_int(seed):
            raise self.invalid(f"{prefix}seed", f"must be an integer, got {seed!r}")
        if schedule is not None and (
            not isinstance(schedule, list) or not schedule or not all(isinstance(s, bool) for s in schedule)
        ):
            raise self.invalid(
                f"{prefix}schedule", f"must be a non-empty array of booleans, got {schedule!r}"
            )
        if next_n is not None and (not _is_int(next_n) or next_n < 1):
            raise self.invalid(f"{prefix}next", f"must be an integer >= 1, got {next_n!r}")
        if spec["count"] is not None and (not _is_int(spec["count"]) or spec["count"] < 1):
            raise self.invalid(f"{prefix}count", f"must be an integer >= 1, got {spec['count']!r}")
        self.check_extra(spec, prefix)
        if effect is None and delay == 0:
            raise self.invalid(
                f"{prefix}{self.EFFECT}",
                "is required unless 'delay_ms' is positive: the plan would do nothing",
            )
        rng = None
        if rate is not None:
            # Without a seed, draw one and report it, so any run can be replayed.
            spec["seed"] = seed if seed is not None else random.SystemRandom().randrange(2**32)
            rng = random.Random(spec["seed"])
        return _Plan(spec=spec, schedule=list(schedule) if schedule is not None else None, rng=rng)

    def parse_document(self, document: Any) -> list[_Plan]:
        """A plan object, or a non-empty array of them (applied together or not at all)."""
        if isinstance(document, list):
            if not document:
                raise self.invalid("/", "must be a plan object or a non-empty array of plan objects")
            return [self.parse_plan(item, f"[{i}].") for i, item in enumerate(document)]
        return [self.parse_plan(document)]

    def set(self, target: str, /, **fields: Any) -> dict[str, Any]:
        """Set (replace) the plan of `target` ("*" for all); fields as in the JSON plan. Returns it."""
        plan = self.parse_plan({self.TARGET: target, **fields})
        with self._lock:
            self._plans[target] = plan
            return plan.describe()

    def load(self, document: Any) -> None:
        """Set every plan of a JSON document (one plan object or an array of them); all or nothing."""
        plans = self.parse_document(document)
        with self._lock:
            for plan in plans:
                self._plans[plan.spec[self.TARGET]] = plan

    def clear(self, target: str | None = None, /) -> None:
        """Remove one target's plan, or every plan and every counter."""
        with self._lock:
            if target is None:
                self._plans.clear()
                self._injected.clear()
            else:
                self._plans.pop(target, None)

    def injected(self, target: str | None = None, /) -> int:
        """Faults injected into `target` (through its own plan or "*"), or into all targets."""
        with self._lock:
            return self._injected[target] if target is not None else sum(self._injected.values())

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "plans": {name: plan.describe() for name, plan in self._plans.items()},
                "injected": dict(self._injected),
            }

    # Decisions.

    def inject(self, target: str) -> dict[str, Any] | None:
        """For one call of `target`: None, or the fields of the plan that injects into it, once its delay
        has passed (raises stopping_error() if the service stops meanwhile)."""
        if not self._plans:  # the common case: no lock taken when nothing is planned
            return None
        with self._lock:
            plan = self._active(target)
            if plan is None or not plan.decide():
                return None
            self._injected[target] += 1
            spec = dict(plan.spec)
        if spec["delay_ms"] and self._interrupted.wait(spec["delay_ms"] / 1000):
            raise self.stopping_error()
        return spec

    def _active(self, target: str) -> _Plan | None:
        for name in (target, "*"):
            plan = self._plans.get(name)
            if plan is not None and not plan.exhausted:
                return plan
        return None

    def interrupt(self) -> None:
        """Wake every delayed call (each answers stopping_error()): the service is stopping."""
        self._interrupted.set()

    def resume(self) -> None:
        self._interrupted.clear()

    # The HTTP API on CONTROL_PATH.

    def control(self, method: str, path: str, query: str, body: bytes) -> dict[str, Any]:
        """GET reads, PUT/POST sets, DELETE clears (`?<TARGET>=name`: one plan); each answers the state."""
        if path.rstrip("/") != CONTROL_PATH:
            raise self.request_error(
                f"Unknown control path {path}: fault plans are managed on {CONTROL_PATH}"
            )
        if method in ("PUT", "POST"):
            try:
                document = json.loads(body)
            except ValueError as e:
                raise self.json_error(e) from None
            self.load(document)
        elif method == "DELETE":
            targets = parse_qs(query).get(self.TARGET)
            self.clear(targets[0] if targets else None)
        elif method != "GET":
            raise self.request_error(
                f"Unsupported method {method} on {CONTROL_PATH}: "
                "use GET (read), PUT or POST (set), DELETE (clear)"
            )
        return self.state()
