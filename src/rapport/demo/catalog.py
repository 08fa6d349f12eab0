"""The demo brand's places, team and assortment: stores, warehouses, associates, products and stock.

Maison Rapport is a fictional fashion-and-beauty house: ready-to-wear, shoes, leather goods,
accessories, fragrance and skincare, sold online and in ten stores on four continents. Names
of lines and products are invented; store addresses are real streets so maps look right.
Everything here is pure data, built from a ``random.Random`` the caller seeds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

STAFF_DOMAIN = "maison-rapport.example"


@dataclass(frozen=True)
class Store:
    code: str
    name: str
    kind: str
    city: str
    country: str
    timezone: str
    currency: str
    address_line1: str
    postal_code: str | None
    region: str | None
    latitude: str
    longitude: str

    def record(self) -> dict[str, Any]:
        return {
            "code": self.code, "name": self.name, "kind": self.kind, "timezone": self.timezone,
            "currency": self.currency, "address_line1": self.address_line1, "city": self.city,
            "region": self.region, "postal_code": self.postal_code, "country": self.country,
            "latitude": Decimal(self.latitude), "longitude": Decimal(self.longitude),
        }  # fmt: skip


STORES: tuple[Store, ...] = (
    Store("NYC-MAD", "Maison Rapport Madison Avenue", "store", "New York", "US", "America/New_York", "USD",
          "720 Madison Avenue", "10065", "NY", "40.768100", "-73.969200"),
    Store("LAX-MEL", "Maison Rapport Melrose Place", "store", "Los Angeles", "US", "America/Los_Angeles", "USD",
          "8475 Melrose Place", "90069", "CA", "34.083700", "-118.375500"),
    Store("CHI-MAG", "Maison Rapport Magnificent Mile", "store", "Chicago", "US", "America/Chicago", "USD",
          "900 North Michigan Avenue", "60611", "IL", "41.898900", "-87.624300"),
    Store("TOR-BLO", "Maison Rapport Bloor-Yorkville", "store", "Toronto", "CA", "America/Toronto", "CAD",
          "100 Bloor Street West", "M5S 1M8", "ON", "43.669700", "-79.390300"),
    Store("LON-MRY", "Maison Rapport Marylebone", "store", "London", "GB", "Europe/London", "GBP",
          "35 Marylebone High Street", "W1U 4QA", None, "51.520300", "-0.151800"),
    Store("PAR-FSH", "Maison Rapport Faubourg Saint-Honoré", "store", "Paris", "FR", "Europe/Paris", "EUR",
          "12 rue du Faubourg Saint-Honoré", "75008", "Île-de-France", "48.869700", "2.321500"),
    Store("MIL-MNP", "Maison Rapport Via Montenapoleone", "store", "Milano", "IT", "Europe/Rome", "EUR",
          "Via Montenapoleone 8", "20121", "MI", "45.468600", "9.195100"),
    Store("TYO-AOY", "Maison Rapport Aoyama", "store", "Tokyo", "JP", "Asia/Tokyo", "JPY",
          "5-2-1 Minami-Aoyama, Minato-ku", "107-0062", "Tokyo", "35.662700", "139.713400"),
    Store("DXB-MALL", "Maison Rapport The Dubai Mall", "store", "Dubai", "AE", "Asia/Dubai", "AED",
          "The Dubai Mall, Financial Centre Road", None, "Dubai", "25.197200", "55.279600"),
    Store("SYD-PIT", "Maison Rapport Pitt Street", "store", "Sydney", "AU", "Australia/Sydney", "AUD",
          "188 Pitt Street", "2000", "NSW", "-33.870000", "151.208900"),
    Store("WH-US-NJ", "US distribution centre", "warehouse", "Secaucus", "US", "America/New_York", "USD",
          "1 Meadowlands Parkway", "07094", "NJ", "40.789600", "-74.056800"),
    Store("WH-EU-FR", "European distribution centre", "warehouse", "Tremblay-en-France", "FR", "Europe/Paris",
          "EUR", "ZAC Paris Nord 2, 22 avenue des Nations", "93290", "Île-de-France", "48.976300", "2.518200"),
)  # fmt: skip
STORE_BY_CODE = {s.code: s for s in STORES}
SHOPS = tuple(s for s in STORES if s.kind == "store")
WAREHOUSES = tuple(s for s in STORES if s.kind == "warehouse")

#: Fixed demo exchange rates from USD, the catalogue's currency.
USD_RATES = {"USD": Decimal("1"), "CAD": Decimal("1.36"), "GBP": Decimal("0.79"), "EUR": Decimal("0.92"),
             "JPY": Decimal("152"), "AED": Decimal("3.6725"), "AUD": Decimal("1.52")}  # fmt: skip
#: Sales tax added at the till where prices are shown before tax (elsewhere tax is included).
SALES_TAX = {"NY": Decimal("0.08875"), "CA": Decimal("0.095"), "IL": Decimal("0.1025"), "ON": Decimal("0.13")}

# -- the team -------------------------------------------------------------------------------------

_STAFF_NAMES: dict[str, list[str]] = {
    "NYC-MAD": ["Alicia Moreno", "Jordan Blake", "Priya Raman", "Marcus Greene"],
    "LAX-MEL": ["Sofia Delgado", "Tyler Brooks", "Hannah Kim"],
    "CHI-MAG": ["Rachel O'Connor", "DeShawn Carter", "Emily Novak"],
    "TOR-BLO": ["Geneviève Tremblay", "Liam MacDonald", "Aisha Siddiqui"],
    "LON-MRY": ["Charlotte Hughes", "Oliver Bennett", "Amara Okafor", "Freya Lindqvist"],
    "PAR-FSH": ["Camille Lefèvre", "Théo Marchand", "Inès Benali", "Hélène Rousseau"],
    "MIL-MNP": ["Giulia Ferraro", "Niccolò Bianchi", "Chiara Esposito"],
    "TYO-AOY": ["Haruka Sato", "Kenji Watanabe", "Yūko Tanaka"],
    "DXB-MALL": ["Layla Haddad", "Omar Al Suwaidi", "Priyanka Menon"],
    "SYD-PIT": ["Charlotte Nguyen", "Lachlan Kelly", "Mia Papadopoulos"],
}
#: Online experts at head office, each with the countries their client book covers.
VIRTUAL: list[tuple[str, list[str]]] = [
    ("Michelle Laurent", ["US"]),
    ("Noah Fitzgerald", ["CA"]),
    ("Imogen Clarke", ["GB"]),
    ("Zoë Marchetti", ["FR", "IT"]),
    ("Rania Khalil", ["AE"]),
    ("Akira Mori", ["JP", "AU"]),
]
ADMINS = ["Béatrice Duval", "Samuel Okoro"]


@dataclass(frozen=True)
class Staff:
    code: str
    email: str
    display_name: str
    role: str
    home_store: str | None
    regions: tuple[str, ...] = ()

    def record(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "email": self.email,
            "display_name": self.display_name,
            "role": self.role,
            "home_store": self.home_store,
            "regions": list(self.regions),
        }


def _email_local(name: str) -> str:
    from rapport.identity.normalize import name_key

    return (name_key(name) or "staff").replace(" ", ".").replace("'", "")


def team() -> list[Staff]:
    """About forty people: a manager and associates per store, online experts, head office."""
    staff: list[Staff] = []
    for store in SHOPS:
        for i, name in enumerate(_STAFF_NAMES[store.code]):
            role = "store_manager" if i == 0 else "associate"
            code = f"{store.code}-{i + 1:02d}"
            staff.append(Staff(code, f"{_email_local(name)}@{STAFF_DOMAIN}", name, role, store.code))
    for i, (name, regions) in enumerate(VIRTUAL):
        staff.append(
            Staff(
                f"ONLINE-{i + 1:02d}",
                f"{_email_local(name)}@{STAFF_DOMAIN}",
                name,
                "virtual_associate",
                None,
                tuple(regions),
            )
        )
    for i, name in enumerate(ADMINS):
        staff.append(Staff(f"HQ-{i + 1:02d}", f"{_email_local(name)}@{STAFF_DOMAIN}", name, "admin", None))
    return staff


# -- the assortment -------------------------------------------------------------------------------

RTW_SIZES = ("XS", "S", "M", "L", "XL")
SHOE_SIZES = tuple(str(s) for s in range(36, 43))

COLOURS = {
    "BLK": "black", "IVY": "ivory", "CML": "camel", "NVY": "navy", "CHR": "charcoal", "BRG": "burgundy",
    "OLV": "olive", "ECR": "ecru", "CHC": "chocolate", "SGE": "sage", "RSE": "dusty rose", "CBT": "cobalt",
    "SND": "sand", "TAN": "tan", "GRY": "grey marl", "WHT": "white", "SKY": "sky blue", "RED": "lacquer red",
}  # fmt: skip
LEATHER_COLOURS = ("BLK", "TAN", "CML", "BRG", "CHC", "IVY", "OLV", "NVY")

MODEL_NAMES = (
    "Aurore", "Céleste", "Margaux", "Sienna", "Odile", "Bastien", "Élodie", "Marlow", "Hana", "Riviera",
    "Solène", "Ines", "Portofino", "Kyoto", "Mayfair", "Saint-Germain", "Brera", "Bondi", "Soho",
    "Lumière", "Capri", "Anouk", "Dune", "Éclat", "Nara", "Orsay", "Palais", "Rosalie", "Tivoli", "Vendôme",
    "Juniper", "Aspen", "Biarritz", "Colette", "Delphine", "Esmé", "Flore", "Garance", "Honoré", "Isadora",
)  # fmt: skip


@dataclass(frozen=True)
class Family:
    """A group of categories that are sold the same way (sizes, price band, replenishment)."""

    name: str  # rtw | shoes | leather | accessories | fragrance | skincare
    category: str
    prefix: str  # style codes: MR-<prefix>-<n>
    nouns: tuple[str, ...]
    price: tuple[int, int]  # USD list price range
    styles: int
    brands: tuple[str, ...]
    colours_per_style: tuple[int, int] = (1, 2)


# fmt: off
FAMILIES: tuple[Family, ...] = (
    Family("rtw", "Coats", "CT", ("wool coat", "trench coat", "cashmere wrap coat", "car coat"), (890, 2450), 14,
           ("Maison Rapport",), (1, 3)),
    Family("rtw", "Jackets", "JK", ("tailored blazer", "leather jacket", "tweed jacket", "bomber jacket"),
           (590, 1850), 16, ("Maison Rapport", "Rapport Studio")),
    Family("rtw", "Knitwear", "KN", ("cashmere sweater", "merino cardigan", "cable-knit jumper", "rib turtleneck"),
           (240, 890), 24, ("Nord & Sable", "Rapport Studio"), (1, 3)),
    Family("rtw", "Dresses", "DR", ("silk slip dress", "wrap dress", "shirt dress", "pleated midi dress"),
           (390, 1450), 24, ("Maison Rapport", "Rapport Studio")),
    Family("rtw", "Shirts & blouses", "SH", ("poplin shirt", "silk blouse", "oversized shirt"), (190, 490), 20,
           ("Rapport Studio",)),
    Family("rtw", "Trousers", "TR", ("wide-leg trousers", "cigarette trousers", "pleated trousers"), (250, 650), 18,
           ("Maison Rapport", "Rapport Studio")),
    Family("rtw", "Skirts", "SK", ("pleated skirt", "leather midi skirt", "A-line skirt"), (290, 750), 10,
           ("Rapport Studio",)),
    Family("rtw", "T-shirts", "TS", ("cotton T-shirt", "long-sleeve tee", "polo"), (85, 160), 12, ("Rapport Studio",)),
    Family("rtw", "Denim", "DN", ("straight jeans", "selvedge jeans", "denim jacket"), (190, 360), 10,
           ("Okabe Denim",)),
    Family("shoes", "Sneakers", "SN", ("leather sneaker", "suede runner"), (395, 695), 12, ("Atelier Rapport",)),
    Family("shoes", "Boots", "BT", ("ankle boot", "Chelsea boot", "knee-high boot"), (695, 1450), 14,
           ("Atelier Rapport", "Verità Milano")),
    Family("shoes", "Loafers", "LF", ("penny loafer", "horsebit loafer"), (595, 895), 8, ("Verità Milano",)),
    Family("shoes", "Pumps & sandals", "PS", ("slingback pump", "strappy sandal", "mule"), (450, 950), 10,
           ("Verità Milano", "Atelier Rapport")),
    Family("leather", "Handbags", "HB", ("shoulder bag", "top-handle bag", "crossbody bag", "bucket bag"), (1450, 4200),
           28, ("Maison Rapport",), (1, 3)),
    Family("leather", "Totes", "TT", ("leather tote", "canvas tote"), (690, 1650), 10, ("Maison Rapport",)),
    Family("leather", "Small leather goods", "SL", ("card holder", "zip wallet", "belt", "key pouch"), (195, 650), 20,
           ("Atelier Rapport",)),
    Family("accessories", "Scarves", "SC", ("silk carré", "cashmere scarf", "wool stole"), (195, 495), 20,
           ("Maison Rapport",), (1, 3)),
    Family("accessories", "Sunglasses", "SG", ("acetate sunglasses", "aviator sunglasses"), (320, 490), 12,
           ("Maison Rapport",)),
    Family("accessories", "Jewellery", "JW", ("gold hoops", "signet ring", "pearl necklace", "chain bracelet"),
           (180, 890), 16, ("Atelier Rapport",)),
    Family("fragrance", "Fragrance", "FR", ("eau de parfum",), (145, 215), 16, ("Rapport Beauté",)),
    Family("fragrance", "Home fragrance", "HF", ("scented candle",), (75, 95), 8, ("Rapport Beauté",)),
    Family("skincare", "Skincare", "SKN", ("face serum", "night cream", "cleansing balm", "eye cream", "lip balm",
                                     "SPF moisturiser"), (28, 165), 40, ("Rapport Beauté", "Lumen Skin")),
)  # fmt: skip

#: Nouns priced apart from the rest of their family.
NOUN_PRICE = {
    "lip balm": (28, 38),
    "cleansing balm": (45, 65),
    "card holder": (195, 295),
    "belt": (290, 450),
    "canvas tote": (690, 890),
    "polo": (120, 160),
}
SCENTS = (
    "Figue Noire",
    "Ambre Sauvage",
    "Néroli Riviera",
    "Iris Poudré",
    "Cèdre Atlas",
    "Rose Oud",
    "Thé Vert Kyoto",
    "Vétiver Bleu",
    "Musc Blanc",
    "Santal Solaire",
    "Fleur d'Oranger",
    "Tabac Doré",
    "Bergamote 22",
    "Jasmin de Nuit",
    "Poivre Rose",
    "Mimosa Antibes",
)
# fmt: on


@dataclass
class Style:
    code: str
    family: str
    category: str
    name: str
    brand: str
    price_usd: int
    #: colour code -> size (or None) -> SKU
    skus: dict[str, dict[str | None, str]] = field(default_factory=dict)
    replenishment_days: int | None = None
    active: bool = True

    def all_skus(self) -> list[str]:
        return [sku for sizes in self.skus.values() for sku in sizes.values()]


def _round_price(value: float) -> int:
    step = 5 if value < 300 else 10 if value < 1000 else 50
    return max(step, round(value / step) * step)


def build_catalog(rng: random.Random, scale: float = 1.0) -> tuple[list[Style], list[dict[str, Any]]]:
    """Styles (for picking what clients buy) and one product record per variant SKU.

    ``scale`` shrinks the assortment (at least one style per category) for quick tests.
    """
    styles: list[Style] = []
    records: list[dict[str, Any]] = []
    for fam in FAMILIES:
        for n in range(1, max(1, round(fam.styles * scale)) + 1):
            code = f"MR-{fam.prefix}-{n:03d}"
            noun = rng.choice(fam.nouns)
            brand = rng.choice(fam.brands)
            if fam.category == "Fragrance":
                scent = SCENTS[(n - 1) % len(SCENTS)]
                name = f"{scent} {noun}"
            else:
                name = f"{rng.choice(MODEL_NAMES)} {noun}"
            lo, hi = NOUN_PRICE.get(noun, fam.price)
            style = Style(code, fam.name, fam.category, name, brand, _round_price(rng.uniform(lo, hi)))
            discontinued = rng.random() < 0.03
            style.active = n == 1 or not discontinued
            _variants(rng, fam, style)
            styles.append(style)
            for colour, sizes in style.skus.items():
                for size, sku in sizes.items():
                    price = style.price_usd
                    if fam.name == "fragrance" and size == "100ml":
                        price = _round_price(price * 1.45)
                    records.append({
                        "sku": sku, "style_code": code, "name": _product_name(style, colour, size),
                        "brand": brand, "category": fam.category,
                        "colour": COLOURS.get(colour), "size": size, "price": Decimal(price), "currency": "USD",
                        "image_url": f"/static/products/{code}.svg",
                        "replenishment_days": style.replenishment_days, "active": style.active,
                    })  # fmt: skip
    return styles, records


def _variants(rng: random.Random, fam: Family, style: Style) -> None:
    if fam.name in ("fragrance", "skincare"):
        if fam.category == "Fragrance":
            style.replenishment_days = rng.choice((60, 75, 90))
            sizes: tuple[str | None, ...] = ("50ml", "100ml")
        elif fam.category == "Home fragrance":
            style.replenishment_days = 45
            sizes = ("220g",)
        else:
            style.replenishment_days = rng.choice((30, 45, 60))
            sizes = ("30ml", "50ml") if rng.random() < 0.25 else (None,)
        style.skus["NA"] = {s: f"{style.code}-{(s or 'OS').upper()}" for s in sizes}
        return
    count = rng.randint(*fam.colours_per_style)
    palette = LEATHER_COLOURS if fam.name == "leather" else tuple(COLOURS)
    for colour in rng.sample(palette, count):
        if fam.name == "rtw":
            size_list: tuple[str | None, ...] = RTW_SIZES
        elif fam.name == "shoes":
            size_list = SHOE_SIZES
        else:
            size_list = (None,)
        style.skus[colour] = {s: f"{style.code}-{colour}-{s or 'OS'}" for s in size_list}


def _product_name(style: Style, colour: str, size: str | None) -> str:
    parts = [style.name]
    if colour in COLOURS:
        parts.append(f"— {COLOURS[colour]}")
    return " ".join(parts)


def local_price(price_usd: Decimal, currency: str) -> Decimal:
    """The shelf price in a store's currency: converted at the demo rate and rounded as shops do."""
    value = price_usd * USD_RATES[currency]
    if currency == "JPY":
        step = Decimal(1000) if value >= 10000 else Decimal(100)
    elif value >= 100:
        step = Decimal(5)
    else:
        step = Decimal(1)
    return max(step, (value / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step)


def stock_records(rng: random.Random, styles: list[Style], counted_at: datetime) -> list[dict[str, Any]]:
    """On-hand counts: each store carries most styles, a few sizes sold out; warehouses hold depth.

    Counts are from the evening before ``counted_at``, except a sold-out size's, last counted
    when it sold out two to five days earlier (so a delivery counted since can bring it back).
    """
    out: list[dict[str, Any]] = []
    for loc in STORES:
        for style in styles:
            carried = loc.kind == "warehouse" or rng.random() < (
                0.97 if style.family in ("fragrance", "skincare") else 0.82
            )
            if not carried or not style.active:
                continue
            for sizes in style.skus.values():
                for size, sku in sizes.items():
                    on_hand = _on_hand(rng, style, size, loc)
                    when = counted_at - timedelta(minutes=rng.randint(5, 600))
                    if on_hand == 0:
                        when -= timedelta(days=2 + len(out) % 4)
                    out.append({"sku": sku, "location": loc.code, "on_hand": on_hand, "counted_at": when})
    return out


def _on_hand(rng: random.Random, style: Style, size: str | None, loc: Store) -> int:
    if rng.random() < 0.09:
        return 0
    depth = 6 if loc.kind == "warehouse" else 1
    if style.family in ("fragrance", "skincare"):
        return rng.randint(4, 30) * depth
    if style.family == "rtw":
        core = size in ("S", "M")
        return rng.randint(1, 5 if core else 3) * depth
    if style.family == "shoes":
        return rng.randint(1, 3) * depth
    return rng.randint(1, 4) * depth
