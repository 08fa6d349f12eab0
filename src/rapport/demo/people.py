"""The demo brand's clients: believable people in each store's city, and how each system knows them.

A :class:`Person` is one human being. The e-commerce site (source ``shopify``), the tills
(``pos``) and the loyalty programme (``loyalty``) each hold their own record of that person
with overlapping identifiers, exactly the mess identity resolution exists to untangle:

* ``email`` path: the till also captured the web account's email, so the POS record folds in;
* ``phone`` path: the web account has the phone the till knows;
* ``loyalty`` path: the web account knows only the email, the till only the phone, and the
  loyalty enrolment (email + phone + POS id) proves they are one person — a real, audited merge.

A few people also get a *near-duplicate* POS record (a typo in the first name, the same birth
date and address, a phone one digit off): those must never merge on their own.

And a steady few have a *story* from the last days, so every kind of next action has a client
behind it on the day the demo is loaded: a newcomer just placed in an associate's book, a run of
strong buying signals, a wished-for item back in stock, an appointment tomorrow. They are picked
as every Nth person who can live the story (from a separate random stream, so the people
themselves are the same with or without stories), which spreads them evenly over stores and
associates and gives even a few hundred people at least one of each.

Emails use the reserved ``example.*`` domains so a demo can never write to a real inbox.
Phone numbers are valid for their country (ingestion refuses invalid ones) and random.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import phonenumbers

from rapport.demo.catalog import SHOPS, VIRTUAL, Staff
from rapport.demo.names import (
    COUNTRY_CURRENCY,
    COUNTRY_LANGUAGE,
    EMAIL_DOMAINS,
    LANGUAGE,
    NAMES,
    ONLINE_CITIES,
    STORE_CITIES,
    City,
    postcode,
)
from rapport.identity.normalize import name_key


def address_line(rng: random.Random, city: City) -> str:
    street = rng.choice(city.streets)
    n = rng.randint(1, 220)
    if city.country == "IT":
        return f"{street} {n}"
    if city.country == "JP":
        return f"{rng.randint(1, 6)}-{rng.randint(1, 25)}-{rng.randint(1, 18)} {street}"
    if city.country == "AE":
        if rng.random() < 0.4:
            return f"Villa {n}, {street}"
        return f"Apartment {rng.randint(2, 48)}0{rng.randint(1, 9)}, {street}"
    return f"{n} {street}"


# -- phones ---------------------------------------------------------------------------------------

_DIAL = {"US": 1, "CA": 1, "GB": 44, "FR": 33, "IT": 39, "JP": 81, "AE": 971, "AU": 61}


def _national_candidate(rng: random.Random, city: City) -> str:
    c = city.country
    if c in ("US", "CA"):
        exchange = rng.randint(201, 989)
        while exchange % 100 == 11 or exchange == 555:
            exchange = rng.randint(201, 989)
        return f"{rng.choice(city.dial)}{exchange}{rng.randint(0, 9999):04d}"
    if c == "GB":
        return f"7{rng.choice('4579')}{rng.randint(0, 99_999_999):08d}"
    if c == "FR":
        return f"{rng.choice('67')}{rng.randint(0, 99_999_999):08d}"
    if c == "IT":
        return f"3{rng.choice('234789')}{rng.randint(0, 99_999_999):08d}"
    if c == "JP":
        return f"{rng.choice(('90', '80', '70'))}{rng.randint(0, 99_999_999):08d}"
    if c == "AE":
        return f"5{rng.choice('024568')}{rng.randint(0, 9_999_999):07d}"
    return f"4{rng.randint(0, 99_999_999):08d}"  # AU


def is_valid_phone(e164: str) -> bool:
    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(e164, None)))
    except phonenumbers.NumberParseException:
        return False


_valid_block: dict[str, bool] = {}


def _plausible(e164: str) -> bool:
    """Validity per block of 100,000 numbers: numbering plans allocate blocks, not single lines.

    Saves most phonenumbers calls; ingestion re-checks every number anyway.
    """
    block = e164[:-5]
    if block not in _valid_block:
        _valid_block[block] = is_valid_phone(e164)
    return _valid_block[block]


def international(e164: str) -> str:
    """As a till prints it, country code apart: ``+33 612 345 678`` (ingestion normalises it)."""
    if e164.startswith("+1"):
        return f"+1 {e164[2:5]}-{e164[5:8]}-{e164[8:]}"
    for code in ("971", "44", "33", "39", "81", "61"):
        if e164.startswith("+" + code):
            rest = e164[len(code) + 1 :]
            return f"+{code} {rest[:-6]} {rest[-6:-3]} {rest[-3:]}"
    return e164


# -- people ---------------------------------------------------------------------------------------


@dataclass
class Person:
    """One human being, before any system has recorded them."""

    index: int
    first_name: str
    last_name: str
    gender: str
    culture: str
    city: City
    address: str
    postal_code: str | None
    email: str
    phone: str  # E.164
    birth_date: date
    language: str
    segment: str  # online | store | omni
    path: str  # for omni clients: email | phone | loyalty (see the module docstring)
    since: datetime  # first contact with the brand
    vip: bool
    home_store: str | None
    shopify_id: str | None = None
    pos_id: str | None = None
    loyalty_id: str | None = None
    instagram: str | None = None
    assigned: str | None = None
    tier: str | None = None
    sizes: dict[str, str] = field(default_factory=dict)
    preferences: dict[str, list[str]] = field(default_factory=dict)
    affinity: dict[str, float] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    milestones: list[dict[str, str]] = field(default_factory=list)
    relationships: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    twin: dict[str, Any] | None = None  # a near-duplicate POS profile
    #: What happened in the last few days (see :data:`STORIES`), acted out by the history.
    stories: set[str] = field(default_factory=set)

    @property
    def country(self) -> str:
        return self.city.country

    @property
    def currency(self) -> str:
        return COUNTRY_CURRENCY[self.country]

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def ref(self, system: str) -> dict[str, Any]:
        """How an order or event from ``system`` points at this person."""
        if system == "shopify" and self.shopify_id:
            return {"source": "shopify", "id": self.shopify_id, "email": self.email}
        if system == "pos" and self.pos_id:
            return {"source": "pos", "id": self.pos_id}
        if system == "loyalty" and self.loyalty_id:
            return {"source": "loyalty", "id": self.loyalty_id}
        if system == "instagram" and self.instagram:
            return {"source": "instagram", "id": self.instagram}
        return {"email": self.email, "first_name": self.first_name, "last_name": self.last_name}


def _weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    total = sum(w for _, w in pairs)
    pick = rng.uniform(0, total)
    for value, weight in pairs:
        pick -= weight
        if pick <= 0:
            return value
    return pairs[-1][0]


def ascii_name(name: str) -> str:
    return (name_key(name) or "x").replace(" ", "").replace("'", "").replace("-", "")


NOTE_TEMPLATES = (
    "Prefers to be contacted after 6pm, by text.",
    "Buying a gift for her mother's birthday in {month}; likes silk scarves.",
    "Loves the {style} in {colour}; waiting for her size to come back.",
    "Travels to {city} often — happy to be served there.",
    "Does not like wool against the skin; suggest cashmere or cotton.",
    "Private appointments only, before opening if possible.",
    "Allergic to some fragrances: ask before sampling.",
    "Husband also a client; they shop together at Christmas.",
    "Wears {size} in our tailoring but {size2} in knitwear.",
    "Interested in made-to-order leather goods; follow up when the atelier visits.",
    "Returned the last coat (too long); shorter lengths suit her better.",
    "Asked to be told about the pre-sale before it opens.",
)  # fmt: skip
PREFERRED_COLOURS = ("black", "ivory", "camel", "navy", "charcoal", "burgundy", "olive", "ecru", "sage",
                     "dusty rose", "cobalt", "tan")  # fmt: skip
STYLE_WORDS = ("tailored", "minimal", "romantic", "relaxed", "classic", "bold prints", "sporty", "evening")
TAGS = ("newsletter", "bridal", "gift-buyer", "early-access", "beauty-lover", "menswear", "sustainability",
        "press", "private-client", "travel-retail")  # fmt: skip
#: Recent stories: (every Nth person who can live it, from the Kth). About 20,000 people give
#: some 100 newcomers, 100 runs of buying signals, 65 restocked wishes, 60 appointments tomorrow
#: and 30 the day after (whose briefs fall due on the next day's sweep).
NEWCOMER, HIGH_INTENT, BACK_IN_STOCK = "newcomer", "high_intent", "back_in_stock"
APPOINTMENT, APPOINTMENT_LATER = "appointment", "appointment_later"
STORIES: dict[str, tuple[int, int]] = {
    NEWCOMER: (100, 1),
    HIGH_INTENT: (20, 2),
    BACK_IN_STOCK: (250, 3),
    APPOINTMENT: (200, 4),
    APPOINTMENT_LATER: (400, 104),  # never the same people as APPOINTMENT
}
#: A newcomer first came to the brand this many days before the demo's day (well within a welcome's window).
NEWCOMER_DAYS = (1.0, 9.0)
RELATIONS = (("partner", "Marc"), ("husband", "Julien"), ("wife", "Claire"), ("daughter", "Léa"),
             ("son", "Tom"), ("mother", "Anne"), ("sister", "Sophie"), ("friend", "Aiko"))  # fmt: skip


class PeopleFactory:
    """Makes :class:`Person` objects with unique emails, phones and handles. Deterministic per RNG."""

    def __init__(self, rng: random.Random, today: datetime, staff: list[Staff], stories: random.Random) -> None:
        self.rng = rng
        #: Drawn only for recent stories, so adding or tuning one leaves everybody else as they were.
        self.story_rng = stories
        self.story_counts = dict.fromkeys(STORIES, 0)
        self.today = today
        self.emails: set[str] = set()
        self.phones: set[str] = set()
        self.handles: set[str] = set()
        self.store_staff: dict[str, list[str]] = {}
        for s in staff:
            if s.home_store and s.role in ("associate", "store_manager"):
                self.store_staff.setdefault(s.home_store, []).append(s.code)
        self.virtual: dict[str, str] = {}
        for s in staff:
            for country in s.regions:
                self.virtual[country] = s.code
        assert {c for _, regions in VIRTUAL for c in regions} >= set(COUNTRY_CURRENCY)

    # identifiers
    def phone(self, city: City) -> str:
        rng = self.rng
        while True:
            e164 = f"+{_DIAL[city.country]}{_national_candidate(rng, city)}"
            if e164 not in self.phones and _plausible(e164):
                self.phones.add(e164)
                return e164

    def phone_one_digit_off(self, e164: str) -> str:
        digits = list(e164)
        for pos in (len(digits) - 1, len(digits) - 2, len(digits) - 3):
            original = digits[pos]
            for d in "0123456789":
                if d == original:
                    continue
                digits[pos] = d
                candidate = "".join(digits)
                if candidate not in self.phones and is_valid_phone(candidate):
                    self.phones.add(candidate)
                    return candidate
            digits[pos] = original
        raise ValueError(f"no valid neighbour for {e164}")  # pragma: no cover - never for mobiles

    def email(self, first: str, last: str, birth: date) -> str:
        """A unique address. Namesakes get another domain or their birth year, never 'name2': two
        people's addresses one keystroke apart would look like a typo to duplicate detection."""
        rng = self.rng
        f, last_ascii = ascii_name(first), ascii_name(last)
        patterns = (f"{f}.{last_ascii}", f"{f}{last_ascii}", f"{f[0]}{last_ascii}", f"{f}_{last_ascii}",
                    f"{last_ascii}.{f}", f"{f}.{last_ascii}{birth.year}")  # fmt: skip
        local = rng.choice(patterns)
        domains = list(EMAIL_DOMAINS)
        rng.shuffle(domains)
        for candidate in [f"{local}@{d}" for d in domains] + [f"{local}.{birth.year}@{d}" for d in domains]:
            if candidate not in self.emails:
                break
        else:
            n = rng.randint(100, 999)
            while (candidate := f"{local}.{n}@{domains[0]}") in self.emails:
                n += 137
        self.emails.add(candidate)
        return candidate

    def handle(self, first: str, last: str) -> str:
        base = rng_choice = self.rng.choice(
            (
                f"{ascii_name(first)}.{ascii_name(last)}",
                f"{ascii_name(first)}_style",
                f"{ascii_name(first)}{ascii_name(last)[:3]}",
            )
        )
        handle, n = base, 1
        while handle in self.handles:
            n += 1
            handle = f"{rng_choice}{n}"
        self.handles.add(handle)
        return handle

    # people
    def person(self, index: int) -> Person:
        rng = self.rng
        segment = _weighted(rng, (("online", 38), ("store", 24), ("omni", 38)))
        city = rng.choice(ONLINE_CITIES) if segment == "online" and rng.random() < 0.3 else _store_city(rng)
        culture = _weighted(rng, city.cultures)
        gender = "f" if rng.random() < 0.72 else "m"
        females, males, families = NAMES[culture]
        first = rng.choice(females if gender == "f" else males)
        last = rng.choice(families)
        age_days = int(rng.triangular(19, 78, 36) * 365.25)
        birth = (self.today - timedelta(days=age_days)).date()
        language = COUNTRY_LANGUAGE.get(city.country, "en")
        if culture in LANGUAGE and rng.random() < 0.5:
            language = LANGUAGE[culture]
        if city.country == "AE" and culture == "ar":
            language = "ar"
        since = self.today - timedelta(days=int(rng.triangular(20, 1095, 700)), seconds=rng.randint(0, 86399))
        vip = rng.random() < 0.03
        if vip and segment == "online":
            segment = "omni"
            if not city.store:
                city = _store_city(rng)
        p = Person(
            index=index, first_name=first, last_name=last, gender=gender, culture=culture, city=city,
            address=address_line(rng, city), postal_code=postcode(rng, city),
            email=self.email(first, last, birth), phone=self.phone(city), birth_date=birth, language=language,
            segment=segment, path=_weighted(rng, (("email", 45), ("phone", 40), ("loyalty", 15))),
            since=since, vip=vip, home_store=city.store if segment != "online" else None,
        )  # fmt: skip
        self._systems(p)
        self._profile(p)
        if rng.random() < 0.015 and p.pos_id:
            self._twin(p)
        self._stories(p)
        return p

    def _systems(self, p: Person) -> None:
        rng = self.rng
        if p.segment in ("online", "omni"):
            p.shopify_id = str(7_000_000_000_000 + p.index * 7919 + rng.randint(0, 7000))
        if p.segment in ("store", "omni"):
            p.pos_id = f"{p.home_store}-{100_000 + p.index}"
        joins_loyalty = (
            p.vip
            or (p.segment == "omni" and p.path == "loyalty")
            or rng.random() < (0.5 if p.segment == "store" else 0.3 if p.segment == "omni" else 0.2)
        )
        if joins_loyalty:
            p.loyalty_id = f"MRL{p.index * 37 % 1_000_000:06d}{rng.randint(10, 99)}"
        if rng.random() < 0.18:
            p.instagram = self.handle(p.first_name, p.last_name)

    def _profile(self, p: Person) -> None:
        rng = self.rng
        women = p.gender == "f"
        top = rng.choice(("XS", "S", "S", "M", "M", "L") if women else ("M", "L", "L", "XL"))
        p.sizes = {
            "tops": top,
            "bottoms": rng.choice(("XS", "S", "M", "L", "XL")) if rng.random() < 0.3 else top,
            "shoes": str(rng.randint(36, 40) if women else rng.randint(40, 42)),
        }
        weights = {"rtw": 1.0, "shoes": 0.4, "leather": 0.3, "accessories": 0.3, "fragrance": 0.25, "skincare": 0.2}
        for fam in rng.sample(sorted(weights), 2):
            weights[fam] *= rng.choice((2.5, 4.0))
        p.affinity = weights
        p.preferences = {"colours": rng.sample(PREFERRED_COLOURS, rng.randint(1, 3))}
        if rng.random() < 0.6:
            p.preferences["styles"] = rng.sample(STYLE_WORDS, rng.randint(1, 2))
        if rng.random() < 0.25:
            p.preferences["contact_time"] = [rng.choice(("mornings", "lunchtime", "evenings", "weekends"))]
        p.tags = sorted(rng.sample(TAGS, rng.choice((0, 0, 1, 1, 2))))
        if weights["fragrance"] > 0.5 or weights["skincare"] > 0.5:
            p.tags = sorted({*p.tags, "beauty-lover"})
        if not women and "menswear" not in p.tags and rng.random() < 0.5:
            p.tags = sorted({*p.tags, "menswear"})
        if p.vip:
            p.tags = sorted({*p.tags, "vip"})
        if p.loyalty_id:
            p.tier = "Icon" if p.vip else rng.choice(("Member", "Member", "Silver", "Silver", "Gold"))
        if p.home_store and (p.vip or p.tier in ("Gold", "Silver") or rng.random() < 0.35):
            p.assigned = rng.choice(self.store_staff[p.home_store])
        elif p.segment == "online" and rng.random() < 0.45:
            p.assigned = self.virtual[p.country]
        if rng.random() < 0.22:
            wed = self.today.date() - timedelta(days=rng.randint(365, 365 * 30))
            if wed > p.birth_date + timedelta(days=365 * 18):
                p.milestones.append({"kind": "anniversary", "label": "Wedding anniversary", "date": wed.isoformat()})
        if rng.random() < 0.12:
            d = self.today.date() + timedelta(days=rng.randint(0, 364))
            p.milestones.append(
                {"kind": "partner_birthday", "label": "Partner's birthday", "date": f"--{d.month:02d}-{d.day:02d}"}
            )
        if rng.random() < 0.08:
            d = self.today.date() - timedelta(days=rng.randint(365 * 2, 365 * 16))
            p.milestones.append(
                {"kind": "child_birthday", "label": rng.choice(("Léa", "Noah", "Mia", "Hugo")), "date": d.isoformat()}
            )
        if rng.random() < 0.14:
            relation, name = rng.choice(RELATIONS)
            p.relationships.append({"relation": relation, "name": name})
        if p.home_store and rng.random() < (0.8 if p.vip else 0.22):
            for _ in range(rng.randint(1, 3 if p.vip else 1)):
                p.notes.append(self._note(p))
            p.notes = list(dict.fromkeys(p.notes))

    def _stories(self, p: Person) -> None:
        """Give every Nth person who can live a recent story that story (see :data:`STORIES`)."""
        routable = bool(p.home_store or p.assigned)  # someone sees the client's tasks
        can = {
            NEWCOMER: bool(p.assigned) and not p.vip,  # a VIP with years of history is nobody's newcomer
            HIGH_INTENT: bool(p.shopify_id and p.instagram) and routable,  # likes on Instagram, buys on the web
            BACK_IN_STOCK: routable,
            APPOINTMENT: bool(p.home_store),
            APPOINTMENT_LATER: bool(p.home_store),
        }
        for story, (every, first) in STORIES.items():
            if can[story]:
                if self.story_counts[story] % every == first:
                    p.stories.add(story)
                self.story_counts[story] += 1
        if NEWCOMER in p.stories:
            # First came in a few days ago, placed straight into an associate's book.
            p.since = self.today - timedelta(days=self.story_rng.uniform(*NEWCOMER_DAYS))
            if p.tier:
                p.tier = "Member"

    def _note(self, p: Person) -> str:
        rng = self.rng
        template = rng.choice(NOTE_TEMPLATES)
        other = rng.choice([c for c in STORE_CITIES if c.store != p.home_store])
        return template.format(
            month=rng.choice(("March", "June", "September", "December")), style=rng.choice(("Aurore coat",
            "Céleste bag", "Margaux dress", "Riviera loafer")), colour=rng.choice(PREFERRED_COLOURS),
            city=other.name, size=p.sizes["tops"], size2=rng.choice(("S", "M", "L")),
        )  # fmt: skip

    def _twin(self, p: Person) -> None:
        """A second POS profile for the same person, keyed in with a typo, that must not auto-merge."""
        rng = self.rng
        first = _typo(rng, p.first_name)
        p.twin = {
            "source": "pos", "id": f"{rng.choice([s.code for s in SHOPS])}-{900_000 + p.index}",
            "first_name": first, "last_name": p.last_name, "phones": [international(self.phone_one_digit_off(p.phone))],
            "birth_date": p.birth_date, "addresses": [postal_address(p, primary=True)],
        }  # fmt: skip


def postal_address(p: Person, *, primary: bool, kind: str = "home") -> dict[str, Any]:
    return {
        "kind": kind,
        "line1": p.address,
        "city": p.city.name,
        "region": p.city.region,
        "postal_code": p.postal_code,
        "country": p.country,
        "primary": primary,
    }


def _store_city(rng: random.Random) -> City:
    weights = {"NYC-MAD": 16, "LAX-MEL": 11, "CHI-MAG": 8, "TOR-BLO": 8, "LON-MRY": 14, "PAR-FSH": 13,
               "MIL-MNP": 8, "TYO-AOY": 9, "DXB-MALL": 6, "SYD-PIT": 7}  # fmt: skip
    code = _weighted(rng, tuple(weights.items()))
    return next(c for c in STORE_CITIES if c.store == code)


def _typo(rng: random.Random, name: str) -> str:
    """A plausible keying error: two letters swapped, one doubled or one dropped."""
    if len(name) < 4:
        return name + name[-1]
    i = rng.randint(1, len(name) - 3)
    kind = rng.choice(("swap", "double", "drop"))
    if kind == "swap" and name[i] != name[i + 1]:
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    if kind == "drop":
        return name[:i] + name[i + 1 :]
    return name[:i] + name[i] + name[i:]


# -- what each system holds ---------------------------------------------------------------------


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def shopify_record(p: Person, rng: random.Random, today: datetime | None = None) -> dict[str, Any]:
    """The web account: verified email, shipping address, email consent from sign-up.

    ``today`` (the demo's day) caps when a later unsubscription was recorded: never in the future.
    """
    rec: dict[str, Any] = {
        "source": "shopify", "id": p.shopify_id, "first_name": p.first_name, "last_name": p.last_name,
        "emails": [{"address": p.email, "verified": True}], "language": p.language,
        "addresses": [postal_address(p, primary=p.segment == "online", kind="shipping")],
        "consent": [{"channel": "email", "granted": True, "recorded_at": p.since}],
    }  # fmt: skip
    if p.segment == "online" or p.path == "phone":
        rec["phones"] = [p.phone]
    if p.segment == "online":
        rec["birth_date"] = p.birth_date if rng.random() < 0.4 else None
        rec["sizes"] = {"tops": p.sizes["tops"]}
        rec["preferences"] = {"colours": p.preferences["colours"]}
        rec["tags"] = p.tags
        if p.assigned:
            rec["assigned_associate"] = p.assigned
    if rng.random() < 0.2:  # unsubscribed later
        unsubscribed = p.since + timedelta(days=rng.randint(1, 60))
        if today is not None:
            unsubscribed = max(p.since, min(unsubscribed, today - timedelta(hours=1)))
        rec["consent"].append({"channel": "sms", "granted": False, "recorded_at": unsubscribed})
    if p.milestones and p.segment == "online":
        rec["milestones"] = p.milestones
    if p.instagram:
        rec["external_ids"] = [{"source": "instagram", "id": p.instagram}]
    return rec


def pos_record(p: Person, rng: random.Random) -> dict[str, Any]:
    """The till's profile: phone as printed on the receipt, sizes, notes, the associate, SMS consent."""
    rec: dict[str, Any] = {
        "source": "pos", "id": p.pos_id, "first_name": p.first_name, "last_name": p.last_name,
        "phones": [international(p.phone)], "birth_date": p.birth_date, "language": p.language,
        "addresses": [postal_address(p, primary=True)], "sizes": p.sizes, "preferences": p.preferences,
        "tags": p.tags, "home_store": p.home_store, "notes": p.notes, "milestones": p.milestones,
        "relationships": p.relationships,
        "consent": [{"channel": "sms", "granted": rng.random() < 0.7, "recorded_at": p.since},
                    {"channel": "phone", "granted": True, "recorded_at": p.since}],
    }  # fmt: skip
    if p.assigned:
        rec["assigned_associate"] = p.assigned
    if p.instagram and not p.shopify_id:
        rec["external_ids"] = [{"source": "instagram", "id": p.instagram}]
    if (p.segment == "omni" and p.path == "email") or (p.segment == "store" and rng.random() < 0.5):
        rec["emails"] = [p.email]
    return rec


def loyalty_record(p: Person, rng: random.Random, today: datetime) -> dict[str, Any]:
    """The loyalty enrolment: card number, tier, both email and phone, the POS id, all consents."""
    joined = p.since + timedelta(days=rng.randint(0, 120))
    joined = min(joined, today - timedelta(days=1))
    external = []
    if p.pos_id:
        external.append({"source": "pos", "id": p.pos_id})
    if p.instagram:
        external.append({"source": "instagram", "id": p.instagram})
    rec: dict[str, Any] = {
        "source": "loyalty", "id": p.loyalty_id, "first_name": p.first_name, "last_name": p.last_name,
        "emails": [{"address": p.email, "verified": True}], "phones": [p.phone], "external_ids": external,
        "birth_date": p.birth_date, "tier": p.tier, "tags": ["loyalty"],
        "consent": [{"channel": ch, "granted": rng.random() < share, "recorded_at": joined}
                    for ch, share in (("email", 0.85), ("sms", 0.6), ("whatsapp", 0.35))],
    }  # fmt: skip
    if p.segment == "store" and p.path != "loyalty" and rng.random() < 0.5:
        del rec["emails"]  # enrolled at the till with a phone only
    return rec
