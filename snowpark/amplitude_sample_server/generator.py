"""Deterministic sample events shaped like Amplitude's export, with known planted counts.

Each hour is generated from ``(seed, hour)`` alone, so any hour can be regenerated
identically and in any order. Ordinary browsing never repeats a page or an element within
a session; repeats come only from planted bursts, so the number of repeat-click groups is
known exactly (see :class:`HourManifest`).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

PROJECT_ID = 100011471
PAGE_VIEWED = "[Amplitude] Page Viewed"
ELEMENT_CLICKED = "[Amplitude] Element Clicked"
SESSIONLESS_EVENT = "invoice_paid"

PAGES = [
    ("/", "Home"),
    ("/pricing", "Pricing"),
    ("/docs", "Documentation"),
    ("/docs/export-api", "Export API"),
    ("/blog", "Blog"),
    ("/blog/snowpipe-tips", "Snowpipe tips"),
    ("/signup", "Sign up"),
    ("/login", "Log in"),
    ("/account", "Account"),
    ("/account/billing", "Billing"),
    ("/contact", "Contact us"),
    ("/careers", "Careers"),
]
ELEMENTS = [
    ("button", "Start free trial", "#hero > button.cta"),
    ("a", "Read the docs", "nav > a.docs"),
    ("button", "Download", "main button.download"),
    ("a", "Pricing", "nav > a.pricing"),
    ("button", "Submit", "form#signup button[type=submit]"),
    ("button", "Next", "div.carousel button.next"),
    ("a", "Contact sales", "footer a.sales"),
    ("button", "Copy", "pre button.copy"),
]
PLATFORMS = [("Web", "Chrome", "124"), ("Web", "Firefox", "126"), ("Web", "Safari", "17.4")]
COUNTRIES = [
    ("United Kingdom", "England", "London"),
    ("United States", "California", "San Francisco"),
    ("Germany", "Berlin", "Berlin"),
]
DOMAIN = "www.example.com"


@dataclass
class HourManifest:
    """What one generated hour contains, for exact assertions downstream."""

    rows: int = 0
    distinct_uuids: int = 0
    distinct_insert_ids: int = 0
    resent_rows: int = 0  # same $insert_id and event, new uuid (a client retry)
    sessions: int = 0  # sessions with a real session_id (not -1)
    sessionless_rows: int = 0
    page_views: int = 0
    element_clicks: int = 0
    repeat_click_groups: int = 0  # (session, page, element) clicked 3+ times
    repeat_page_view_groups: int = 0  # (session, page) viewed 3+ times
    users: set[str] = field(default_factory=set)

    def add(self, other: HourManifest) -> None:
        for name in (
            "rows",
            "distinct_uuids",
            "distinct_insert_ids",
            "resent_rows",
            "sessions",
            "sessionless_rows",
            "page_views",
            "element_clicks",
            "repeat_click_groups",
            "repeat_page_view_groups",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.users |= other.users


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


class _HourBuilder:
    def __init__(self, seed: int, hour: datetime, sessions: int) -> None:
        self.hour = hour
        self.rng = random.Random(f"{seed}:{hour.isoformat()}")
        self.sessions = sessions
        self.events: list[dict[str, Any]] = []
        self.manifest = HourManifest()
        self._event_id = 0

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def event(
        self,
        user: dict[str, Any],
        session_id: int,
        event_type: str,
        when: datetime,
        properties: dict[str, Any],
    ) -> dict[str, Any]:
        self._event_id += 1
        upload = when + timedelta(milliseconds=self.rng.randint(50, 900))
        platform, browser, version = user["platform"]
        country, region, city = user["geo"]
        return {
            "$insert_id": self._uuid(),
            "$schema": 12,
            "adid": None,
            "amplitude_attribution_ids": None,
            "amplitude_event_type": None,
            "amplitude_id": user["amplitude_id"],
            "app": PROJECT_ID,
            "city": city,
            "client_event_time": _timestamp(when),
            "client_upload_time": _timestamp(upload),
            "country": country,
            "data": {"group_ids": {}, "group_first_event": {}},
            "data_type": "event",
            "device_brand": None,
            "device_carrier": None,
            "device_family": browser,
            "device_id": user["device_id"],
            "device_manufacturer": None,
            "device_model": None,
            "device_type": browser,
            "dma": None,
            "event_id": self._event_id,
            "event_properties": properties,
            "event_time": _timestamp(when),
            "event_type": event_type,
            "global_user_properties": {},
            "group_properties": {},
            "groups": {},
            "idfa": None,
            "ip_address": user["ip"],
            "is_attribution_event": False,
            "language": "English",
            "library": "amplitude-ts/2.11.0",
            "location_lat": None,
            "location_lng": None,
            "os_name": browser,
            "os_version": version,
            "partner_id": None,
            "paying": None,
            "platform": platform,
            "processed_time": _timestamp(upload + timedelta(milliseconds=40)),
            "region": region,
            "sample_rate": None,
            "server_received_time": _timestamp(upload),
            "server_upload_time": _timestamp(upload + timedelta(milliseconds=5)),
            "session_id": session_id,
            "source_id": None,
            "start_version": None,
            "user_creation_time": user["created"],
            "user_id": user["user_id"],
            "user_properties": {"plan": user["plan"], "initial_referrer": "EMPTY"},
            "uuid": self._uuid(),
            "version_name": None,
        }

    def page_view(self, user: dict[str, Any], sid: int, when: datetime, page: int) -> None:
        path, title = PAGES[page]
        self.add(
            self.event(
                user,
                sid,
                PAGE_VIEWED,
                when,
                {
                    "[Amplitude] Page Domain": DOMAIN,
                    "[Amplitude] Page Location": f"https://{DOMAIN}{path}",
                    "[Amplitude] Page Path": path,
                    "[Amplitude] Page Title": title,
                    "[Amplitude] Page URL": f"https://{DOMAIN}{path}",
                    "[Amplitude] Page Counter": len(self.events) + 1,
                },
            )
        )
        self.manifest.page_views += 1

    def click(
        self, user: dict[str, Any], sid: int, when: datetime, page: int, element: int
    ) -> None:
        path, title = PAGES[page]
        tag, text, selector = ELEMENTS[element]
        self.add(
            self.event(
                user,
                sid,
                ELEMENT_CLICKED,
                when,
                {
                    "[Amplitude] Element Tag": tag,
                    "[Amplitude] Element Text": text,
                    "[Amplitude] Element Selector": selector,
                    "[Amplitude] Element Hierarchy": [{"tag": tag, "index": 0}],
                    "[Amplitude] Page URL": f"https://{DOMAIN}{path}",
                    "[Amplitude] Page Title": title,
                    "[Amplitude] Page Path": path,
                    "[Amplitude] Viewport Width": 1440,
                },
            )
        )
        self.manifest.element_clicks += 1

    def add(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        self.manifest.rows += 1
        self.manifest.distinct_uuids += 1
        self.manifest.distinct_insert_ids += 1

    def resend(self, event: dict[str, Any]) -> None:
        """A client retry: identical event and $insert_id, a new uuid from Amplitude."""
        copy = dict(event, uuid=self._uuid())
        self.events.append(copy)
        self.manifest.rows += 1
        self.manifest.distinct_uuids += 1
        self.manifest.resent_rows += 1

    def user(self, index: int) -> dict[str, Any]:
        rng = random.Random(f"user:{index}")
        return {
            "user_id": f"user-{index:05d}" if index % 5 else None,
            "device_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "amplitude_id": 800_000_000_000 + index,
            "platform": PLATFORMS[index % len(PLATFORMS)],
            "geo": COUNTRIES[index % len(COUNTRIES)],
            "ip": f"203.0.113.{index % 250 + 1}",
            "plan": ["free", "team", "enterprise"][index % 3],
            "created": _timestamp(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=index)),
        }

    def build(self, user_pool: int) -> None:
        rng = self.rng
        for _ in range(self.sessions):
            user = self.user(rng.randrange(user_pool))
            self.manifest.users.add(user["device_id"])
            start = self.hour + timedelta(seconds=rng.randint(0, 2400))
            sid = int(start.timestamp() * 1000)
            self.manifest.sessions += 1
            when = start
            pages = rng.sample(range(len(PAGES)), rng.randint(2, 5))
            for page in pages:
                self.page_view(user, sid, when, page)
                when += timedelta(seconds=rng.randint(5, 60))
                for element in rng.sample(range(len(ELEMENTS)), rng.randint(0, 2)):
                    self.click(user, sid, when, page, element)
                    when += timedelta(seconds=rng.randint(2, 30))
            if rng.random() < 0.3:  # a rage-click burst on the last page
                page, element = pages[-1], rng.randrange(len(ELEMENTS))
                # ordinary browsing may already have clicked it once on this page
                for _ in range(rng.randint(3, 5)):
                    when += timedelta(milliseconds=rng.randint(300, 2500))
                    self.click(user, sid, when, page, element)
                self.manifest.repeat_click_groups += 1
            if rng.random() < 0.1:  # a reload loop on the first page
                for _ in range(3):
                    when += timedelta(seconds=rng.randint(1, 5))
                    self.page_view(user, sid, when, pages[0])
                self.manifest.repeat_page_view_groups += 1
            if rng.random() < 0.05:  # a client retry of the session's last event
                self.resend(self.events[-1])
        for _ in range(max(1, self.sessions // 10)):
            user = self.user(rng.randrange(user_pool))
            self.manifest.users.add(user["device_id"])
            when = self.hour + timedelta(seconds=rng.randint(0, 3500))
            self.add(self.event(user, -1, SESSIONLESS_EVENT, when, {"amount": rng.randint(1, 99)}))
            self.manifest.sessionless_rows += 1


def generate_hour(
    seed: int, hour: datetime, sessions: int, user_pool: int = 2000
) -> tuple[list[dict[str, Any]], HourManifest]:
    """Events whose ``server_upload_time`` falls in ``hour``, and what they contain."""
    builder = _HourBuilder(seed, hour.astimezone(UTC), sessions)
    builder.build(user_pool)
    return builder.events, builder.manifest


def iter_hours(start: datetime, end: datetime) -> Iterator[datetime]:
    current = start
    while current <= end:
        yield current
        current += timedelta(hours=1)
