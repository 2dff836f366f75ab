"""Writes sample_data/leads.csv: synthetic B2B leads for the demo, deterministic (seeded).

    python scripts/generate_sample_leads.py [--rows 3000] [--output sample_data/leads.csv]

Every person and company is invented (Faker); domains end in `.example` (reserved, RFC 2606),
so nothing here points at a real inbox or profile. Most rows carry a LinkedIn URL (in the
assorted forms real exports use), about 20 % an email, about 5 % a phone. A handful of rows are
broken on purpose (no identifier at all, a malformed email) so the demo shows skip reasons.
"""

import argparse
import csv
import random
import re
import sys
import unicodedata
from pathlib import Path

from faker import Faker

SEED = 20260101
HEADER = [
    "First Name",
    "Last Name",
    "Job Title",
    "Company",
    "Website",
    "LinkedIn URL",
    "Email",
    "Phone",
    "City",
    "Industry",
]
INDUSTRIES = [
    "Software",
    "Financial Services",
    "Healthcare",
    "Manufacturing",
    "Retail",
    "Logistics",
    "Education",
    "Marketing & Advertising",
    "Real Estate",
    "Telecommunications",
    "Energy",
    "Biotechnology",
]
TITLES = [
    "Chief Executive Officer",
    "Chief Technology Officer",
    "VP of Sales",
    "VP Marketing",
    "Head of Growth",
    "Director of Engineering",
    "Head of Procurement",
    "Sales Development Representative",
    "Account Executive",
    "Operations Manager",
    "Product Manager",
    "Head of People",
    "CFO",
    "Marketing Manager",
    "Data Engineer",
]
# The forms LinkedIn profile URLs arrive in from CRMs and scrapers; all canonicalise alike.
LINKEDIN_FORMS = [
    "https://www.linkedin.com/in/{slug}",
    "https://www.linkedin.com/in/{slug}/",
    "linkedin.com/in/{slug}",
    "http://uk.linkedin.com/in/{slug}",
    "https://www.linkedin.com/in/{slug}?trk=public_profile",
]
BROKEN_ROWS = 12


def _ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")


def generate(rows: int, seed: int = SEED) -> list[list[str]]:
    fake = Faker(["en_US", "en_GB", "de_DE", "fr_FR", "es_ES"])
    fake.seed_instance(seed)
    rng = random.Random(seed)
    companies = []
    for _ in range(max(rows // 6, 1)):
        name = fake.unique.company()
        domain = f"{_ascii_slug(name)[:40].strip('-')}.example"
        companies.append((name, domain, rng.choice(INDUSTRIES)))
    out = []
    for index in range(rows):
        first, last = fake.first_name(), fake.last_name()
        company, domain, industry = rng.choice(companies)
        slug = f"{_ascii_slug(first)}-{_ascii_slug(last)}-{index:05d}"
        linkedin = rng.choice(LINKEDIN_FORMS).format(slug=slug) if rng.random() < 0.85 else ""
        email = ""
        if rng.random() < 0.2:
            email = f"{_ascii_slug(first)}.{_ascii_slug(last)}@{domain}".replace("-", "")
        area = rng.choice(["212", "312", "415", "617", "206", "512"])
        # 555-01xx is reserved for fiction in the North American numbering plan.
        phone = fake.numerify(f"+1 ({area}) 555-01##") if rng.random() < 0.05 else ""
        out.append(
            [
                first,
                last,
                rng.choice(TITLES),
                company,
                rng.choice([f"https://www.{domain}", domain, f"http://{domain}/"]),
                linkedin,
                email,
                phone,
                fake.city(),
                industry,
            ]
        )
    # Deliberately broken rows, spread through the file, for the demo's skip reasons.
    for n in range(BROKEN_ROWS):
        position = (n + 1) * rows // (BROKEN_ROWS + 1)
        row = out[position]
        if n % 2 == 0:
            row[5], row[6] = "", f"{_ascii_slug(row[1])}@"  # malformed email
        else:
            row[4], row[5], row[6] = "", "", ""  # no LinkedIn, email or company domain
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--output", default=str(Path(__file__).resolve().parent.parent / "sample_data/leads.csv")
    )
    args = parser.parse_args(argv)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(generate(args.rows, args.seed))
    sys.stdout.write(f"Wrote {args.rows} leads to {output}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
