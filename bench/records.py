"""Believable clients, orders and signals for the benchmarks, deterministic per seed.

Everything here is plain data in the shape of the ingestion contract (:mod:`rapport.ingest.records`),
so the same people can be sent through the batch API, written to a CSV/JSONL file for the bulk
import, or turned into rows by :mod:`bench.scale`. Emails use reserved ``example.*`` domains;
phone numbers are valid for their country (ingestion refuses invalid ones) and unique per person
unless a record is *meant* to share one with an earlier record, which is how merges happen.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import phonenumbers

# -- places, people, products --------------------------------------------------------------------


@dataclass(frozen=True)
class Country:
    code: str
    currency: str
    #: A valid mobile number's national significant number; its last six digits are varied.
    mobile: str
    cities: tuple[tuple[str, str], ...]  # (city, postal code prefix)
    streets: tuple[str, ...]
    culture: str


COUNTRIES: tuple[Country, ...] = (
    Country("US", "USD", "2015550123", (("New York", "100"), ("Los Angeles", "900"), ("Chicago", "606"),
            ("Boston", "021"), ("Miami", "331")), ("Madison Avenue", "Park Avenue", "Elm Street",
            "Sunset Boulevard", "Oak Lane", "Maple Drive", "Washington Street"), "en"),
    Country("GB", "GBP", "7400123456", (("London", "W1"), ("London", "SW3"), ("Manchester", "M1"),
            ("Edinburgh", "EH1")), ("Marylebone High Street", "King's Road", "Princes Street", "Deansgate"), "en"),
    Country("FR", "EUR", "612345678", (("Paris", "750"), ("Lyon", "690"), ("Bordeaux", "330"), ("Lille", "590")),
            ("rue du Faubourg Saint-Honoré", "avenue Montaigne", "rue de la République", "boulevard Haussmann"), "fr"),
    Country("DE", "EUR", "15123456789", (("Berlin", "101"), ("München", "803"), ("Hamburg", "200")),
            ("Kurfürstendamm", "Maximilianstraße", "Jungfernstieg", "Friedrichstraße"), "de"),
    Country("IT", "EUR", "3123456789", (("Milano", "201"), ("Roma", "001"), ("Firenze", "501")),
            ("Via Montenapoleone", "Via Condotti", "Via de' Tornabuoni", "Corso Como"), "it"),
    Country("JP", "JPY", "9012345678", (("Tokyo", "107"), ("Osaka", "530"), ("Kyoto", "600")),
            ("Minami-Aoyama", "Umeda", "Shijō-dōri", "Ginza"), "ja"),
)  # fmt: skip
COUNTRY = {c.code: c for c in COUNTRIES}
#: How clients spread over countries (the brand is strongest at home).
COUNTRY_WEIGHTS = (40, 15, 15, 10, 10, 10)

NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en": (
        ("Olivia", "Emma", "Charlotte", "Amelia", "Sophie", "Grace", "Hannah", "Alice", "Lucy", "Victoria",
         "Natalie", "Megan", "James", "Oliver", "William", "Henry", "Thomas", "Daniel", "Samuel", "Michael",
         "Matthew", "Edward", "Jonathan", "Christopher", "Catherine", "Elizabeth", "Margaret", "Rebecca",
         "Abigail", "Madison", "Harriet", "Imogen", "Eleanor", "Georgia", "Poppy", "Isla", "Freya", "Jessica",
         "Lauren", "Ava", "Ethan", "Nathan", "George", "Ryan", "Benjamin", "Alexander", "Jack", "Harry", "Lewis",
         "Patrick", "Andrew", "Joseph", "David", "Robert", "Richard", "Charles", "Sarah", "Laura", "Emily",
         "Anna", "Claire", "Julia", "Diana", "Fiona", "Helen", "Kate", "Ruth", "Zoe", "Max", "Luke"),
        ("Smith", "Johnson", "Williams", "Brown", "Taylor", "Davies", "Wilson", "Evans", "Roberts", "Walker",
         "Wright", "Thompson", "White", "Hughes", "Edwards", "Green", "Hall", "Harris", "Clarke", "Jackson",
         "Turner", "Parker", "Cooper", "Morgan", "Bennett", "Foster", "Campbell", "Mitchell", "Sullivan",
         "O'Connor", "Fitzgerald", "Whitaker", "Anderson", "Robinson", "Richardson", "Henderson", "Ashworth",
         "Blackwood", "Bradshaw", "Carrington", "Chamberlain", "Cunningham", "Dalton", "Donovan", "Ellington",
         "Fairbanks", "Fletcher", "Gallagher", "Gardner", "Hargreaves", "Hastings", "Holloway", "Kensington",
         "Lancaster", "Lawrence", "Macdonald", "Marshall", "McAllister", "Montgomery", "Nightingale", "Osborne",
         "Pemberton", "Prescott", "Quinn", "Radcliffe", "Rutherford", "Sinclair", "Spencer", "Stanton",
         "Sutherland", "Thornton", "Underwood", "Vaughan", "Wakefield", "Whitfield", "Winchester", "Yardley",
         "Barker", "Chapman", "Ellis", "Graham", "Hunt", "Kennedy", "Lloyd", "Murray", "Palmer", "Reynolds",
         "Stevens", "Tucker", "Wallace", "Webb", "Woods", "Young", "Baxter", "Coleman", "Dixon", "Fisher"),
    ),
    "fr": (
        ("Camille", "Chloé", "Léa", "Zoë", "Inès", "Hélène", "Amélie", "Manon", "Élodie", "Juliette", "Clémence",
         "Margaux", "François", "Benoît", "Jérôme", "Théo", "Étienne", "Antoine", "Mathis", "Aurélien", "Anaïs",
         "Louise", "Céline", "Noémie", "Agathe", "Bérénice", "Gaël", "Loïc", "Hugo", "Louis", "Rémi",
         "Grégoire", "Sébastien", "Mathilde", "Adèle", "Capucine", "Apolline", "Baptiste", "Maël", "Joséphine"),
        ("Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Laurent", "Girard", "Fournier", "Mercier",
         "Dupont", "Lemaître", "Chevalier", "Rousseau", "Gauthier", "Fontaine", "Marchand", "Duval", "Perrin",
         "Faure", "Bénard", "Roux", "Lambert", "Leroy", "Morel", "de La Tour", "Garnier", "Boyer", "Blanchard",
         "Guérin", "Muller", "Henry", "Roussel", "Nicolas", "Caron", "Picard", "Brunet", "Giraud", "Aubert",
         "Barbier", "Arnaud", "Renaud", "Lacroix", "Dumont", "Rolland", "Bertrand", "Vasseur", "Carpentier",
         "Hébert", "Delacroix", "Beaumont"),
    ),
    "de": (
        ("Lena", "Katharina", "Sophie", "Marlene", "Franziska", "Jürgen", "Lukas", "Maximilian", "Felix",
         "Matthias", "Björn", "Annika", "Anneliese", "Jördis", "Jörg", "Leonie", "Johanna", "Greta", "Friedrich",
         "Konstantin", "Moritz", "Tobias", "Sebastian", "Wiebke", "Ulrike", "Carsten", "Dietrich", "Henrike"),
        ("Müller", "Schröder", "Köhler", "Weiß", "Jäger", "Schmidt", "Schneider", "Fischer", "Weber", "Becker",
         "Schäfer", "Hoffmann", "Krüger", "Zimmermann", "Wagner", "Bauer", "Richter", "Klein", "Wolf", "Neumann",
         "Schwarz", "Braun", "Hofmann", "Hartmann", "Lange", "Werner", "Krause", "Lehmann", "Schmitz", "Meier",
         "Vogel", "Friedrich", "Günther", "Keller", "Frank", "Berger", "Kaiser", "Fuchs", "Scholz", "Möller"),
    ),
    "it": (
        ("Giulia", "Chiara", "Francesca", "Martina", "Alessia", "Beatrice", "Ginevra", "Niccolò", "Lorenzo",
         "Matteo", "Alessandro", "Tommaso", "Federico", "Riccardo", "Ludovica", "Caterina", "Federica", "Bianca",
         "Leonardo", "Andrea", "Gianluca", "Elena", "Sofia", "Aurora", "Vittoria", "Edoardo", "Pietro", "Gabriele"),
        ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "De Luca",
         "Galli", "Conti", "Greco", "Mancini", "Lombardi", "Barbieri", "Fontana", "Bruno", "Sala", "D'Angelo",
         "Moretti", "Gallo", "Costa", "Giordano", "Rizzo", "Caruso", "Ferrara", "Santoro", "Rinaldi", "Leone",
         "Longo", "Martinelli", "Vitale", "Serra", "Coppola", "De Santis", "Marchetti", "Parisi", "Villa", "Ferri"),
    ),
    "ja": (
        ("Yuki", "Haruka", "Aoi", "Sakura", "Yui", "Mei", "Rin", "Emi", "Hiroshi", "Takumi", "Ren", "Kenji",
         "Daiki", "Haruto", "Natsuki", "Ayaka", "Misaki", "Yūko", "Sōta", "Kōji", "Yūto", "Akira", "Kaito",
         "Riku", "Hana", "Mio", "Saki", "Nanami"),
        ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi",
         "Kato", "Mori", "Ishikawa", "Hayashi", "Fujita", "Ogawa", "Yoshida", "Yamada", "Sasaki", "Yamaguchi",
         "Matsumoto", "Inoue", "Kimura", "Shimizu", "Yamazaki", "Ikeda", "Hashimoto", "Abe", "Ishii", "Saitō",
         "Ōta", "Okada", "Hasegawa", "Kondo", "Murakami", "Endo", "Aoki", "Sakamoto", "Fukuda", "Nishimura"),
    ),
}  # fmt: skip
#: Share of clients whose names come from another culture than their country's, and with a double surname.
MIXED_NAMES = 0.25
DOUBLE_SURNAME = 0.15

DOMAINS = ("example.com", "example.org", "example.net", "mail.example", "inbox.example")
TAGS = ("vip", "fragrance", "tailoring", "newsletter", "events", "gifting", "bridal", "menswear")
SIZE_KEYS = {"tops": ("XS", "S", "M", "L", "XL"), "shoes": ("36", "37", "38", "39", "40", "41", "42", "43", "44"),
             "trousers": ("34", "36", "38", "40", "42", "44")}  # fmt: skip
CATEGORIES = (
    ("coats", 89000, 3), ("knitwear", 32000, 5), ("dresses", 45000, 5), ("shirts", 19000, 6),
    ("trousers", 24000, 5), ("shoes", 59000, 4), ("bags", 120000, 2), ("scarves", 18000, 3),
    ("fragrance", 14500, 2), ("skincare", 9500, 2),
)  # fmt: skip
BRANDS = ("Maison Rapport", "Rapport Atelier", "Rapport Parfums", "Rapport Studio")
COLOURS = ("black", "camel", "navy", "ivory", "burgundy", "forest", "grey")
SIZES_BY_CATEGORY = {
    "coats": ("XS", "S", "M", "L", "XL"), "knitwear": ("XS", "S", "M", "L"), "dresses": ("34", "36", "38", "40"),
    "shirts": ("S", "M", "L", "XL"), "trousers": ("36", "38", "40", "42"), "shoes": ("37", "38", "39", "40", "42"),
    "bags": (None,), "scarves": (None,), "fragrance": ("50ml", "100ml"), "skincare": ("30ml",),
}  # fmt: skip
SOURCES_ONLINE = "shopify"
SOURCE_POS = "pos"
SOURCE_LOYALTY = "loyalty"


@dataclass(frozen=True)
class Store:
    code: str
    name: str
    country: str
    city: str
    currency: str
    timezone: str


STORES: tuple[Store, ...] = (
    Store("NYC-MAD", "Madison Avenue", "US", "New York", "USD", "America/New_York"),
    Store("LAX-MEL", "Melrose Place", "US", "Los Angeles", "USD", "America/Los_Angeles"),
    Store("LON-MRY", "Marylebone", "GB", "London", "GBP", "Europe/London"),
    Store("PAR-FSH", "Faubourg Saint-Honoré", "FR", "Paris", "EUR", "Europe/Paris"),
    Store("BER-KUD", "Kurfürstendamm", "DE", "Berlin", "EUR", "Europe/Berlin"),
    Store("MIL-MNP", "Via Montenapoleone", "IT", "Milano", "EUR", "Europe/Rome"),
    Store("TYO-AOY", "Aoyama", "JP", "Tokyo", "JPY", "Asia/Tokyo"),
    Store("WH-EU", "European warehouse", "FR", "Orléans", "EUR", "Europe/Paris"),
)
STORES_BY_COUNTRY: dict[str, list[Store]] = {}
for _s in STORES:
    if not _s.code.startswith("WH-"):
        STORES_BY_COUNTRY.setdefault(_s.country, []).append(_s)


def ascii_fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if ch.isascii() and (ch.isalnum()))


def phone_number(country: Country, n: int) -> str:
    """The ``n``-th distinct valid mobile number of ``country`` in E.164 (unique for n < 10**6)."""
    suffix = (n * 7919 + 12345) % 1_000_000  # 7919 is prime to 10**6: a bijection on six digits
    nsn = country.mobile[:-6] + f"{suffix:06d}"
    code = phonenumbers.country_code_for_region(country.code)
    return f"+{code}{nsn}"


def national_format(e164: str) -> str:
    number = phonenumbers.parse(e164)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


@dataclass
class Person:
    """One human being, as the brand's systems may each know them."""

    n: int
    first_name: str
    last_name: str
    country: Country
    email: str
    phone: str  # E.164
    city: str
    postal_code: str
    street: str
    birth_date: date | None
    tags: list[str] = field(default_factory=list)
    sizes: dict[str, str] = field(default_factory=dict)
    consent_email: bool = True
    consent_sms: bool = False

    @property
    def store(self) -> Store:
        stores = STORES_BY_COUNTRY[self.country.code]
        return stores[self.n % len(stores)]


def postal_code(rng: random.Random, country: str, prefix: str) -> str:
    """A plausible postal code of the city whose codes start with ``prefix``."""
    if country == "GB":
        inward = f"{rng.randrange(1, 10)}{rng.choice('ABDEFGHJLN')}{rng.choice('PQRSTUWXYZ')}"
        return f"{prefix}{rng.randrange(1, 10)} {inward}"
    if country == "JP":
        return f"{prefix}-{rng.randrange(0, 100):02d}{rng.randrange(0, 100):02d}"
    if country == "FR":
        return f"{prefix}{rng.randrange(1, 21):02d}"
    return f"{prefix}{rng.randrange(0, 100):02d}"


def make_person(rng: random.Random, n: int) -> Person:
    country = rng.choices(COUNTRIES, weights=COUNTRY_WEIGHTS)[0]
    culture = country.culture if rng.random() >= MIXED_NAMES else rng.choice(tuple(NAMES))
    firsts, lasts = NAMES[culture]
    first, last = rng.choice(firsts), rng.choice(lasts)
    if culture != "ja" and rng.random() < DOUBLE_SURNAME:
        other = rng.choice(lasts)
        if other != last:
            last = f"{last}-{other}"
    local = f"{ascii_fold(first).lower()}.{ascii_fold(last).lower()}{n}"
    city, prefix = rng.choice(country.cities)
    postal = postal_code(rng, country.code, prefix)
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 55)) if rng.random() < 0.6 else None
    sizes = {k: rng.choice(v) for k, v in SIZE_KEYS.items() if rng.random() < 0.4}
    return Person(
        n=n, first_name=first, last_name=last, country=country,
        email=f"{local}@{DOMAINS[n % len(DOMAINS)]}", phone=phone_number(country, n),
        city=city, postal_code=postal, street=f"{rng.randrange(1, 200)} {rng.choice(country.streets)}",
        birth_date=born, tags=rng.sample(TAGS, rng.choice((0, 0, 1, 2))), sizes=sizes,
        consent_email=rng.random() < 0.7, consent_sms=rng.random() < 0.35,
    )  # fmt: skip


@dataclass(frozen=True)
class ProductSpec:
    sku: str
    style_code: str
    name: str
    brand: str
    category: str
    colour: str
    size: str | None
    price_minor: int  # in the product's currency (EUR); orders re-price per store currency
    replenishment_days: int | None


def products(count: int, seed: int = 7) -> list[ProductSpec]:
    """``count`` sellable variants, grouped in styles of a few sizes."""
    rng = random.Random(f"bench-products:{seed}")
    out: list[ProductSpec] = []
    style = 0
    while len(out) < count:
        style += 1
        category, base, _ = CATEGORIES[style % len(CATEGORIES)]
        colour = rng.choice(COLOURS)
        price = int(base * rng.uniform(0.7, 1.6)) // 500 * 500 + 500
        name = f"{colour.title()} {category.rstrip('s')} {style}"
        replenish = 90 if category in ("fragrance", "skincare") else None
        for size in SIZES_BY_CATEGORY[category]:
            if len(out) >= count:
                break
            sku = f"{category[:3].upper()}-{style:05d}" + (f"-{size}" if size else "")
            out.append(ProductSpec(sku, f"ST-{style:05d}", name, BRANDS[style % len(BRANDS)], category, colour, size,
                                   price, replenish))  # fmt: skip
    return out


#: Minor units per major unit, per currency (JPY has none).
MINOR = {"USD": 100, "GBP": 100, "EUR": 100, "JPY": 1}
#: Rough price in each currency for a price in EUR minor units (list prices are per market).
RATE = {"EUR": Decimal("1"), "USD": Decimal("1.1"), "GBP": Decimal("0.85"), "JPY": Decimal("1.6")}


def price_in(price_eur_minor: int, currency: str) -> int:
    """A store's list price in minor units of ``currency``; rounded to whole major units."""
    major = (Decimal(price_eur_minor) / 100 * RATE[currency]).quantize(Decimal(1))
    if currency == "JPY":
        major *= 100
    return int(major) * MINOR[currency]


def amount(minor: int, currency: str) -> str:
    """Minor units as the decimal string a record carries ("120.00", "19800")."""
    if MINOR[currency] == 1:
        return str(minor)
    return f"{minor // 100}.{minor % 100:02d}"


# -- reference data ------------------------------------------------------------------------------


def location_records() -> list[dict[str, Any]]:
    return [
        {"code": s.code, "name": f"Maison Rapport {s.name}",
         "kind": "warehouse" if s.code.startswith("WH-") else "store", "timezone": s.timezone,
         "currency": s.currency, "city": s.city, "country": s.country}
        for s in STORES
    ]  # fmt: skip


def associate_codes() -> list[tuple[str, str]]:
    """(associate code, store code): four associates per store."""
    return [(f"{s.code}-A{i}", s.code) for s in STORES if not s.code.startswith("WH-") for i in range(1, 5)]


def associate_records() -> list[dict[str, Any]]:
    return [
        {"code": code, "email": f"{code.lower()}@maison-rapport.example", "display_name": f"Associate {code}",
         "home_store": store}
        for code, store in associate_codes()
    ]  # fmt: skip


def product_records(specs: list[ProductSpec]) -> list[dict[str, Any]]:
    return [
        {"sku": p.sku, "style_code": p.style_code, "name": p.name, "brand": p.brand, "category": p.category,
         "colour": p.colour, "size": p.size, "price": amount(p.price_minor, "EUR"), "currency": "EUR",
         "replenishment_days": p.replenishment_days}
        for p in specs
    ]  # fmt: skip


# -- customer records with shared identifiers ----------------------------------------------------


@dataclass
class Stream:
    """Customer records in arrival order and the people behind them.

    ``shared`` counts the records that carry an identifier an earlier record already brought in
    (a second system's view of the same person), ``linking`` those that carry identifiers of two
    *different* earlier clients, so a real two-client merge must happen.
    """

    records: list[dict[str, Any]]
    people: list[Person]
    #: For each person, the (source, id) of their first record: what orders and events refer to.
    first_ref: dict[int, tuple[str, str]]
    shared: int = 0
    linking: int = 0


def customer_stream(count: int, *, seed: int = 11, shared_share: float = 0.15) -> Stream:
    """``count`` customer records; about ``shared_share`` of them share an identifier with an earlier one.

    A third of the sharing records are loyalty enrolments that bring together a person whom the
    web shop knew only by email and the tills only by phone — two clients that must merge.
    """
    rng = random.Random(f"bench-customers:{seed}")
    records: list[dict[str, Any]] = []
    people: list[Person] = []
    first_ref: dict[int, tuple[str, str]] = {}
    split: list[Person] = []  # people known as two separate clients (email-only web, phone-only till)
    stream = Stream(records, people, first_ref)
    n = 0
    while len(records) < count:
        roll = rng.random()
        if people and roll < shared_share:
            if split and rng.random() < 1 / 3:
                person = split.pop(rng.randrange(len(split)))
                records.append(_loyalty_record(person))
                stream.linking += 1
            else:
                person = people[rng.randrange(len(people))]
                records.append(_second_system_record(rng, person))
            stream.shared += 1
            continue
        person = make_person(rng, n)
        n += 1
        people.append(person)
        if rng.random() < 0.12 and len(records) + 2 <= count:
            # Known twice without a common identifier: a web account (email) and a till card (phone).
            records.append(_record(rng, person, SOURCES_ONLINE, email=True, phone=False))
            records.append(_record(rng, person, SOURCE_POS, email=False, phone=True))
            split.append(person)
        else:
            source = SOURCES_ONLINE if rng.random() < 0.55 else SOURCE_POS
            records.append(_record(rng, person, source, email=rng.random() < 0.95, phone=rng.random() < 0.7))
        first_ref[person.n] = (records[-1]["source"], records[-1]["id"])
    return stream


def _ext_id(source: str, person: Person) -> str:
    return {"shopify": "shp", "pos": "pos", "loyalty": "loy"}[source] + f"-{person.n:07d}"


def _record(rng: random.Random, p: Person, source: str, *, email: bool, phone: bool) -> dict[str, Any]:
    rec: dict[str, Any] = {"source": source, "id": _ext_id(source, p), "first_name": p.first_name,
                           "last_name": p.last_name}  # fmt: skip
    if email or not phone:
        rec["emails"] = [{"address": p.email, "verified": source == SOURCES_ONLINE}]
    if phone:
        # Tills type numbers the local way; the web shop stores E.164.
        rec["phones"] = [p.phone if source == SOURCES_ONLINE else national_format(p.phone)]
    rec["addresses"] = [{"kind": "home", "line1": p.street, "city": p.city, "postal_code": p.postal_code,
                         "country": p.country.code, "primary": True}]  # fmt: skip
    if p.birth_date:
        rec["birth_date"] = p.birth_date.isoformat()
    rec["language"] = {"en": "en", "fr": "fr", "de": "de", "it": "it", "ja": "ja"}[p.country.culture]
    if p.tags:
        rec["tags"] = list(p.tags)
    if p.sizes:
        rec["sizes"] = dict(p.sizes)
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 400_000))
    rec["consent"] = [{"channel": "email", "granted": p.consent_email, "recorded_at": at.isoformat()}]
    if phone:
        rec["consent"].append({"channel": "sms", "granted": p.consent_sms, "recorded_at": at.isoformat()})
    if source == SOURCE_POS:
        rec["home_store"] = p.store.code
    return rec


def _second_system_record(rng: random.Random, p: Person) -> dict[str, Any]:
    """The same person seen by another system: shares the email (or, at the till, the phone)."""
    source = rng.choice((SOURCE_POS, SOURCE_LOYALTY, SOURCES_ONLINE))
    rec = _record(rng, p, source, email=True, phone=rng.random() < 0.5)
    rec["id"] = f"{rec['id']}-{rng.randrange(10**6)}"
    if rng.random() < 0.3:
        rec["notes"] = [f"Prefers to be called before 6pm; asked about {rng.choice(CATEGORIES)[0]}."]
    return rec


def _loyalty_record(p: Person) -> dict[str, Any]:
    """A loyalty enrolment with both the email and the phone: links the web client and the till client."""
    return {
        "source": SOURCE_LOYALTY, "id": _ext_id(SOURCE_LOYALTY, p), "first_name": p.first_name,
        "last_name": p.last_name, "emails": [p.email], "phones": [p.phone],
        "external_ids": [{"source": SOURCE_POS, "id": _ext_id(SOURCE_POS, p)}], "tier": "gold",
    }  # fmt: skip


# -- orders and signals --------------------------------------------------------------------------


def order_records(
    count: int, stream: Stream, specs: list[ProductSpec], *, seed: int = 13, start: datetime | None = None
) -> list[dict[str, Any]]:
    """Orders from the web shop and the tills for the stream's people (and a few guests and strangers)."""
    rng = random.Random(f"bench-orders:{seed}")
    start = start or datetime(2025, 1, 1, tzinfo=UTC)
    associates = associate_codes()
    by_store: dict[str, list[str]] = {}
    for code, store_code in associates:
        by_store.setdefault(store_code, []).append(code)
    out = []
    for i in range(count):
        person = stream.people[rng.randrange(len(stream.people))]
        online = rng.random() < 0.45
        store: Store | None = None if online else person.store
        currency = store.currency if store else person.country.currency
        roll = rng.random()
        customer: dict[str, Any] | None
        if roll < 0.04:
            customer = None  # a guest at the till
        elif roll < 0.08:  # someone the brand has never seen, known by email only
            customer = {"email": f"walkin{seed}.{i}@example.org", "first_name": "Walk", "last_name": f"In {i}"}
        elif online:
            source, ext = stream.first_ref[person.n]
            customer = {"source": source, "id": ext} if source == SOURCES_ONLINE else {"email": person.email}
        else:
            customer = {"phone": national_format(person.phone), "country": person.country.code} \
                if rng.random() < 0.4 else {"email": person.email}  # fmt: skip
        lines = []
        for n_line in range(rng.choices((1, 2, 3), weights=(60, 30, 10))[0]):
            spec = specs[rng.randrange(len(specs))]
            unit = price_in(spec.price_minor, currency)
            lines.append({"id": str(n_line + 1), "sku": spec.sku, "quantity": rng.choice((1, 1, 1, 2)),
                          "unit_price": amount(unit, currency)})  # fmt: skip
        placed = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 600))
        rec: dict[str, Any] = {
            "source": SOURCES_ONLINE if online else SOURCE_POS, "id": f"{'W' if online else 'S'}{seed}-{i:07d}",
            "order_number": f"{'W' if online else 'S'}{100000 + i}", "channel": "online" if online else "store",
            "currency": currency, "placed_at": placed.isoformat(), "lines": lines,
        }  # fmt: skip
        if customer is not None:
            rec["customer"] = customer
        if store is not None:
            rec["store"] = store.code
            if rng.random() < 0.6:
                rec["associate"] = rng.choice(by_store[store.code])
        if online:
            rec["shipping"] = amount(10 * MINOR[currency] * (100 if currency == "JPY" else 1), currency)
        out.append(rec)
    return out


EVENT_TYPES = (("product_view", 40), ("page_view", 15), ("wishlist_add", 10), ("cart_add", 12),
               ("cart_abandoned", 5), ("try_on", 8), ("social_like", 7), ("message", 3))  # fmt: skip


def event_records(
    count: int, stream: Stream, specs: list[ProductSpec], *, seed: int = 17, start: datetime | None = None
) -> list[dict[str, Any]]:
    """Web, social and store-floor signals about the stream's people, each with the source's id."""
    rng = random.Random(f"bench-events:{seed}")
    start = start or datetime(2026, 1, 1, tzinfo=UTC)
    kinds = [k for k, _ in EVENT_TYPES]
    weights = [w for _, w in EVENT_TYPES]
    out = []
    for i in range(count):
        person = stream.people[rng.randrange(len(stream.people))]
        kind = rng.choices(kinds, weights=weights)[0]
        source, ext = stream.first_ref[person.n]
        customer = {"source": source, "id": ext} if rng.random() < 0.7 else {"email": person.email}
        rec: dict[str, Any] = {
            "source": "instagram" if kind == "social_like" else "web" if kind != "try_on" else "pos",
            "id": f"ev{seed}-{i:08d}", "type": kind,
            "occurred_at": (start + timedelta(seconds=rng.randrange(0, 3600 * 24 * 300))).isoformat(),
            "customer": customer,
        }  # fmt: skip
        if kind in ("product_view", "wishlist_add", "cart_add", "try_on"):
            rec["sku"] = specs[rng.randrange(len(specs))].sku
        if kind == "try_on":
            rec["store"] = person.store.code
        if kind == "page_view":
            rec["data"] = {"url": f"/{rng.choice(CATEGORIES)[0]}"}
        if kind == "message":
            rec["channel"] = "whatsapp"
            rec["summary"] = "Asked whether the coat comes in a smaller size"
        out.append(rec)
    return out
