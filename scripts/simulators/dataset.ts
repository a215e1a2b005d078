/**
 * Deterministic synthetic QAD data for tests and load runs. Everything derives from a seeded
 * PRNG (mulberry32); nothing reads Math.random or the clock.
 */
import type { QadContactRow, QadCustomerRow, QadItemRow, QadPriceRow } from './qad/types.ts';

export type Rng = () => number;

/** mulberry32: a small, fast 32-bit seeded PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function int(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  const item = items[Math.floor(rng() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

/** Picks `n` distinct indexes of [0, length) (partial Fisher-Yates), in pick order. */
function sampleIndexes(rng: Rng, length: number, n: number): number[] {
  const idx = Array.from({ length }, (_, i) => i);
  const count = Math.max(0, Math.min(length, n));
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(rng() * (length - i));
    const a = idx[i] as number;
    idx[i] = idx[j] as number;
    idx[j] = a;
  }
  return idx.slice(0, count);
}

function digits(rng: Rng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String(int(rng, 0, 9));
  return s;
}

/** YYYY-MM-DD minus `days` (UTC calendar arithmetic). */
export function addDays(date: string, days: number): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new Error(`Not a YYYY-MM-DD date: ${date}`);
  const d = new Date(`${date}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) throw new Error(`Not a YYYY-MM-DD date: ${date}`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

interface Locale {
  country: string; // ISO code as QAD stores it in ad_country
  currency: 'EUR' | 'USD' | 'GBP';
  tld: string;
  surnames: readonly string[];
  /** Patterns; {s} = surname, {s2} = second surname, {i} = industry word, {f} = legal form. */
  patterns: readonly string[];
  industries: readonly string[];
  forms: readonly string[];
  cities: ReadonlyArray<{ city: string; state: string }>;
  street: (rng: Rng) => string;
  phone: (rng: Rng) => string;
}

const LOCALES: readonly Locale[] = [
  {
    country: 'DE',
    currency: 'EUR',
    tld: 'de',
    surnames: [
      'Müller',
      'Schäfer',
      'Weiß',
      'Schröder',
      'Köhler',
      'Krüger',
      'Hoffmann',
      'Schmidt',
      'Bäcker',
      'Größer',
      'Wagner',
      'Jürgens',
      'Hößl',
      'Fischer',
      'Zöllner',
      'Becker',
      'Lührs',
      'Kühn',
    ],
    patterns: ['{s} {i} {f}', '{s} & {s2} {i} {f}', '{i} {s} {f}'],
    industries: [
      'Maschinenbau',
      'Präzisionstechnik',
      'Stahlbau',
      'Antriebstechnik',
      'Gießerei',
      'Werkzeugbau',
      'Kunststofftechnik',
      'Blechbearbeitung',
      'Hydraulik',
      'Elektrotechnik',
    ],
    forms: ['GmbH', 'GmbH & Co. KG', 'AG', 'KG'],
    cities: [
      { city: 'München', state: 'BY' },
      { city: 'Stuttgart', state: 'BW' },
      { city: 'Köln', state: 'NW' },
      { city: 'Düsseldorf', state: 'NW' },
      { city: 'Nürnberg', state: 'BY' },
      { city: 'Chemnitz', state: 'SN' },
    ],
    street: (rng) =>
      `${pick(rng, ['Hauptstraße', 'Industriestraße', 'Gewerbepark', 'Am Mühlbach', 'Schloßallee', 'Bahnhofstraße'])} ${int(rng, 1, 180)}`,
    phone: (rng) => `+49 ${int(rng, 30, 991)} ${digits(rng, 7)}`,
  },
  {
    country: 'FR',
    currency: 'EUR',
    tld: 'fr',
    surnames: [
      'Lefèvre',
      'Durand',
      'Girard',
      'Bélanger',
      'Moreau',
      'Fontaine',
      'Lemaître',
      'Mercier',
      'Gauthier',
      'Chevalier',
      'Rousseau',
      'Béranger',
      'Leclère',
      'Dupré',
    ],
    patterns: ['{i} {s} {f}', '{i} {s} et {s2} {f}', '{s} {i} {f}'],
    industries: [
      'Ateliers Mécaniques',
      'Fonderie',
      'Usinage',
      'Découpe Laser',
      'Électromécanique',
      'Chaudronnerie',
      'Équipements Industriels',
      'Forges',
    ],
    forms: ['SA', 'SAS', 'SARL'],
    cities: [
      { city: 'Lyon', state: '' },
      { city: 'Besançon', state: '' },
      { city: 'Saint-Étienne', state: '' },
      { city: 'Grenoble', state: '' },
      { city: 'Orléans', state: '' },
    ],
    street: (rng) =>
      `${int(rng, 1, 120)} ${pick(rng, [
        'rue de l’Industrie',
        'avenue Jean Jaurès',
        'boulevard Pasteur',
        'rue des Forgerons',
        'chemin du Moulin',
        'allée des Érables',
      ])}`,
    phone: (rng) => `+33 ${int(rng, 1, 5)} ${digits(rng, 2)} ${digits(rng, 2)} ${digits(rng, 2)} ${digits(rng, 2)}`,
  },
  {
    country: 'ES',
    currency: 'EUR',
    tld: 'es',
    surnames: [
      'García',
      'Martínez',
      'López',
      'Sánchez',
      'Pérez',
      'Gómez',
      'Fernández',
      'Díaz',
      'Muñoz',
      'Álvarez',
      'Ibáñez',
      'Núñez',
      'Peña',
      'Castaño',
    ],
    patterns: ['{i} {s} {f}', '{i} {s} y {s2} {f}'],
    industries: ['Fundiciones', 'Mecanizados', 'Talleres', 'Estampaciones', 'Componentes Industriales', 'Calderería', 'Tornillería'],
    forms: ['S.L.', 'S.A.', 'S.L.U.'],
    cities: [
      { city: 'Bilbao', state: 'BI' },
      { city: 'Zaragoza', state: 'Z' },
      { city: 'Valencia', state: 'V' },
      { city: 'Málaga', state: 'MA' },
      { city: 'Logroño', state: 'LO' },
    ],
    street: (rng) =>
      `${pick(rng, [
        'Calle Mayor',
        'Avenida de la Industria',
        'Polígono Industrial Los Ángeles',
        'Calle de la Fundición',
        'Paseo de la Castellana',
      ])}, ${int(rng, 1, 200)}`,
    phone: (rng) => `+34 ${int(rng, 91, 98)}${digits(rng, 1)} ${digits(rng, 3)} ${digits(rng, 3)}`,
  },
  {
    country: 'IT',
    currency: 'EUR',
    tld: 'it',
    surnames: [
      'Rossi',
      'Bianchi',
      'Ferrari',
      'Esposito',
      'Colombo',
      'Ricci',
      'Marino',
      'Greco',
      'Bruno',
      'Galli',
      'Conti',
      'De Luca',
      'Mancini',
      'Lombardi',
    ],
    patterns: ['{i} {s} {f}', '{i} {s} & {s2} {f}', '{s} {i} {f}'],
    industries: [
      'Officine Meccaniche',
      'Fonderia',
      'Meccanica di Precisione',
      'Stampaggio',
      'Oleodinamica',
      'Carpenteria Metallica',
      'Utensileria',
    ],
    forms: ['S.p.A.', 'S.r.l.', 'S.n.c.'],
    cities: [
      { city: 'Brescia', state: 'BS' },
      { city: 'Torino', state: 'TO' },
      { city: 'Bergamo', state: 'BG' },
      { city: 'Forlì', state: 'FC' },
      { city: 'Cantù', state: 'CO' },
    ],
    street: (rng) =>
      `${pick(rng, ['Via Roma', 'Via dell’Industria', 'Viale Europa', 'Via Garibaldi', 'Corso Vittorio Emanuele'])} ${int(rng, 1, 150)}`,
    phone: (rng) => `+39 0${int(rng, 2, 99)} ${digits(rng, 7)}`,
  },
  {
    country: 'GB',
    currency: 'GBP',
    tld: 'co.uk',
    surnames: [
      'Smith',
      'Taylor',
      'Brown',
      'Wilson',
      'Evans',
      'Thomas',
      'Johnson',
      'Roberts',
      'Walker',
      'Wright',
      'Hughes',
      'Edwards',
      'Green',
      'Hall',
      'O’Brien',
    ],
    patterns: ['{s} {i} {f}', '{s} & {s2} {i} {f}'],
    industries: ['Engineering', 'Precision Tools', 'Castings', 'Fabrications', 'Hydraulics', 'Plastics', 'Components', 'Machining'],
    forms: ['Ltd', 'Limited', 'PLC'],
    cities: [
      { city: 'Birmingham', state: 'West Midlands' },
      { city: 'Sheffield', state: 'South Yorkshire' },
      { city: 'Leeds', state: 'West Yorkshire' },
      { city: 'Coventry', state: 'West Midlands' },
      { city: 'Derby', state: 'Derbyshire' },
    ],
    street: (rng) =>
      `${int(rng, 1, 250)} ${pick(rng, ['High Street', 'Station Road', 'Mill Lane', 'Foundry Way', 'Canal Street', 'Church Road'])}`,
    phone: (rng) => `+44 ${int(rng, 113, 1909)} ${digits(rng, 6)}`,
  },
  {
    country: 'US',
    currency: 'USD',
    tld: 'com',
    surnames: [
      'Anderson',
      'Miller',
      'Davis',
      'Jackson',
      'Harris',
      'Martin',
      'Thompson',
      'Moore',
      'Clark',
      'Lewis',
      'Young',
      'Allen',
      'King',
      'Scott',
      'Baker',
    ],
    patterns: ['{s} {i} {f}', '{s}-{s2} {i} {f}'],
    industries: ['Manufacturing', 'Industries', 'Precision Machining', 'Tool & Die', 'Metal Works', 'Fasteners', 'Automation', 'Molding'],
    forms: ['Inc.', 'LLC', 'Corp.', 'Co.'],
    cities: [
      { city: 'Detroit', state: 'MI' },
      { city: 'Cleveland', state: 'OH' },
      { city: 'Milwaukee', state: 'WI' },
      { city: 'Houston', state: 'TX' },
      { city: 'Charlotte', state: 'NC' },
      { city: 'Rockford', state: 'IL' },
    ],
    street: (rng) =>
      `${int(rng, 100, 9999)} ${pick(rng, ['Industrial Pkwy', 'Commerce Dr', 'Main St', 'Enterprise Blvd', 'Factory Rd', 'Oak Ave'])}`,
    phone: (rng) => `+1 ${int(rng, 201, 989)}-${digits(rng, 3)}-${digits(rng, 4)}`,
  },
  {
    country: 'NL',
    currency: 'EUR',
    tld: 'nl',
    surnames: [
      'de Vries',
      'van Dijk',
      'Bakker',
      'Janssen',
      'Visser',
      'Smit',
      'Meijer',
      'de Boer',
      'Mulder',
      'van den Berg',
      'Dekker',
      'Brouwer',
    ],
    patterns: ['{s} {i} {f}', '{i} {s} {f}'],
    industries: ['Metaalbewerking', 'Machinefabriek', 'Constructie', 'Techniek', 'Kunststoffen', 'Gieterij'],
    forms: ['B.V.', 'N.V.'],
    cities: [
      { city: 'Eindhoven', state: 'NB' },
      { city: 'Rotterdam', state: 'ZH' },
      { city: 'Enschede', state: 'OV' },
      { city: 'Tilburg', state: 'NB' },
    ],
    street: (rng) => `${pick(rng, ['Industrieweg', 'Havenstraat', 'Kanaaldijk', 'Molenweg', 'Zuiderzeestraat'])} ${int(rng, 1, 300)}`,
    phone: (rng) => `+31 ${int(rng, 10, 79)} ${digits(rng, 7)}`,
  },
  {
    country: 'SE',
    currency: 'EUR',
    tld: 'se',
    surnames: [
      'Åberg',
      'Öberg',
      'Lindqvist',
      'Ström',
      'Sjöberg',
      'Hällström',
      'Nordström',
      'Ekström',
      'Söderlund',
      'Björk',
      'Ångström',
      'Lundgren',
    ],
    patterns: ['{s} {i} {f}', '{s} & {s2} {i} {f}'],
    industries: ['Verkstad', 'Mekaniska', 'Gjuteri', 'Verktyg', 'Industriteknik', 'Svets'],
    forms: ['AB'],
    cities: [
      { city: 'Göteborg', state: '' },
      { city: 'Västerås', state: '' },
      { city: 'Jönköping', state: '' },
      { city: 'Örebro', state: '' },
    ],
    street: (rng) => `${pick(rng, ['Storgatan', 'Industrivägen', 'Verkstadsgatan', 'Hamngatan', 'Åkervägen'])} ${int(rng, 1, 90)}`,
    phone: (rng) => `+46 ${int(rng, 8, 99)} ${digits(rng, 3)} ${digits(rng, 2)} ${digits(rng, 2)}`,
  },
  {
    country: 'PL',
    currency: 'EUR',
    tld: 'pl',
    surnames: [
      'Kowalski',
      'Nowak',
      'Wiśniewski',
      'Wójcik',
      'Kamiński',
      'Lewandowski',
      'Zieliński',
      'Szymański',
      'Woźniak',
      'Dąbrowski',
      'Kozłowski',
      'Jankowski',
    ],
    patterns: ['{i} {s} {f}', '{i} {s} i {s2} {f}'],
    industries: ['Zakłady Mechaniczne', 'Odlewnia', 'Fabryka Maszyn', 'Przedsiębiorstwo Produkcyjne', 'Obróbka Metali', 'Narzędziownia'],
    forms: ['Sp. z o.o.', 'S.A.', 'Sp.k.'],
    cities: [
      { city: 'Wrocław', state: 'DS' },
      { city: 'Łódź', state: 'LD' },
      { city: 'Poznań', state: 'WP' },
      { city: 'Gdańsk', state: 'PM' },
      { city: 'Kraków', state: 'MA' },
    ],
    street: (rng) =>
      `ul. ${pick(rng, ['Przemysłowa', 'Fabryczna', 'Długa', 'Żelazna', 'Kościuszki', 'Świętokrzyska'])} ${int(rng, 1, 120)}`,
    phone: (rng) => `+48 ${int(rng, 12, 95)} ${digits(rng, 3)} ${digits(rng, 2)} ${digits(rng, 2)}`,
  },
  {
    country: 'CZ',
    currency: 'EUR',
    tld: 'cz',
    surnames: ['Dvořák', 'Novák', 'Svoboda', 'Černý', 'Procházka', 'Kučera', 'Veselý', 'Horák', 'Němec', 'Pokorný', 'Růžička', 'Král'],
    patterns: ['{i} {s} {f}', '{s} {i} {f}'],
    industries: ['Strojírny', 'Slévárna', 'Kovovýroba', 'Nástrojárna', 'Strojírenská výroba', 'Lisovna'],
    forms: ['s.r.o.', 'a.s.'],
    cities: [
      { city: 'Brno', state: '' },
      { city: 'Plzeň', state: '' },
      { city: 'Ostrava', state: '' },
      { city: 'České Budějovice', state: '' },
    ],
    street: (rng) => `${pick(rng, ['Průmyslová', 'Nádražní', 'Tovární', 'Hlavní', 'Křižíkova'])} ${int(rng, 1, 999)}`,
    phone: (rng) => `+420 ${digits(rng, 3)} ${digits(rng, 3)} ${digits(rng, 3)}`,
  },
];

/** Postal code in the country's usual format. */
function postalCode(rng: Rng, country: string): string {
  const L = () => String.fromCharCode(65 + int(rng, 0, 25));
  switch (country) {
    case 'GB':
      return `${L()}${L()}${int(rng, 1, 20)} ${int(rng, 1, 9)}${L()}${L()}`;
    case 'US':
      return digits(rng, 5);
    case 'NL':
      return `${int(rng, 1000, 9999)} ${L()}${L()}`;
    case 'SE':
      return `${int(rng, 100, 999)} ${digits(rng, 2)}`;
    case 'PL':
      return `${digits(rng, 2)}-${digits(rng, 3)}`;
    case 'CZ':
      return `${int(rng, 100, 799)} ${digits(rng, 2)}`;
    default:
      return String(int(rng, 1000, 99999)).padStart(5, '0');
  }
}

const TRANSLIT: Record<string, string> = { ä: 'ae', ö: 'oe', ü: 'ue', ß: 'ss', ł: 'l', ø: 'o', æ: 'ae', å: 'a', '’': '', '&': '' };

/** ASCII slug for e-mail domains: 'Müller & Schäfer' -> 'mueller-schaefer'. */
export function slug(s: string): string {
  return s
    .toLowerCase()
    .replace(/[äöüßłøæå’&]/g, (c) => TRANSLIT[c] ?? '')
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** Sales region by country: derived, so the seeded sequence (and every other generated value) stays as it was. */
const REGIONS: Record<string, string> = {
  DE: 'DACH',
  FR: 'France',
  ES: 'Southern Europe',
  IT: 'Southern Europe',
  GB: 'UK & Ireland',
  US: 'North America',
  NL: 'Benelux',
  SE: 'Nordics',
  PL: 'Central Europe',
  CZ: 'Central Europe',
};
export const SALES_REGIONS: readonly string[] = [...new Set(Object.values(REGIONS))].sort();

export const TERMS = ['N30', 'N45', 'N60', '2/10N30', 'N14', 'EOM'] as const;
export const SITES = ['10-100', '10-200', '20-100', '30-100'] as const;
/** A legal form ending a word, dropped from a company's name to make its web domain. */
const LEGAL_FORM = new RegExp(
  String.raw`\b(GmbH|Co\.|KG|AG|SAS?|SARL|S\.[A-Za-z.]+|Ltd|Limited|PLC|Inc\.|LLC|Corp\.|` +
    String.raw`B\.V\.|N\.V\.|AB|Sp\. z o\.o\.|Sp\.k\.|s\.r\.o\.|a\.s\.)(?=\s|$)`,
  'g',
);
const MAILBOXES = ['info', 'sales', 'purchasing', 'einkauf', 'contact', 'orders'] as const;
const LINE2 = ['', '', '', 'Gebäude 3', 'Unit 4', 'Bâtiment B', 'Hall 2', 'Suite 210', 'Tor 5', 'Postfach 12 04'] as const;

function makeName(rng: Rng, loc: Locale): string {
  const s = pick(rng, loc.surnames);
  let s2 = pick(rng, loc.surnames);
  if (s2 === s) s2 = loc.surnames[(loc.surnames.indexOf(s) + 1) % loc.surnames.length] ?? s2;
  return pick(rng, loc.patterns)
    .replace('{s2}', s2)
    .replace('{s}', s)
    .replace('{i}', pick(rng, loc.industries))
    .replace('{f}', pick(rng, loc.forms));
}

export function generateCustomers(opts: { count: number; seed: number; today: string; domain?: string }): QadCustomerRow[] {
  const { count, seed, today } = opts;
  if (!Number.isInteger(count) || count < 0) throw new Error(`count must be a non-negative integer: ${count}`);
  if (count > 999_999) throw new Error('count too large for C###### codes');
  addDays(today, 0); // validates
  const domain = opts.domain ?? '10USA';
  const rng = mulberry32(seed);
  const used = new Set<string>();
  const rows: QadCustomerRow[] = [];
  for (let n = 1; n <= count; n++) {
    const loc = pick(rng, LOCALES);
    let name = makeName(rng, loc);
    for (let attempt = 0; used.has(name.toLocaleLowerCase()) && attempt < 12; attempt++) name = makeName(rng, loc);
    const place = pick(rng, loc.cities);
    if (used.has(name.toLocaleLowerCase())) name = `${name} ${place.city}`;
    for (let k = 2; used.has(name.toLocaleLowerCase()); k++) name = `${name.replace(/ \(\d+\)$/, '')} (${k})`;
    used.add(name.toLocaleLowerCase());

    const modDate = addDays(today, -int(rng, 1, 90));
    const adMod = rng() < 0.7 ? modDate : addDays(modDate, -int(rng, 0, 30));
    const webSlug = slug(name.replace(LEGAL_FORM, ''));
    rows.push({
      'cm_mstr.cm_addr': `C${String(n).padStart(6, '0')}`,
      'cm_mstr.cm_curr': loc.currency,
      'cm_mstr.cm_cr_terms': pick(rng, TERMS),
      'cm_mstr.cm_site': pick(rng, SITES),
      'cm_mstr.cm_cr_limit': int(rng, 2, 100) * 5000,
      'cm_mstr.cm_domain': domain,
      'cm_mstr.cm_mod_date': modDate,
      'cm_mstr.cm_region': REGIONS[loc.country] ?? 'Other',
      'ad_mstr.ad_name': name,
      'ad_mstr.ad_line1': loc.street(rng),
      'ad_mstr.ad_line2': pick(rng, LINE2),
      'ad_mstr.ad_line3': '',
      'ad_mstr.ad_city': place.city,
      'ad_mstr.ad_state': place.state,
      'ad_mstr.ad_zip': postalCode(rng, loc.country),
      'ad_mstr.ad_country': loc.country,
      'ad_mstr.ad_phone': loc.phone(rng),
      'ad_mstr.ad_email': `${pick(rng, MAILBOXES)}@${webSlug || 'example'}.${loc.tld}`,
      'ad_mstr.ad_mod_date': adMod,
    });
  }
  return rows;
}

export type NameVariant = 'exact' | 'case' | 'spaces';

/** Collapses runs of whitespace and trims: what a tolerant name matcher would compare. */
export function normaliseSpaces(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

function caseVariant(rng: Rng, name: string): string {
  const titled = name.toLocaleLowerCase().replace(/(^|\s)(\p{L})/gu, (_m, sp: string, c: string) => `${sp}${c.toLocaleUpperCase()}`);
  const options = [name.toLocaleUpperCase(), name.toLocaleLowerCase(), titled];
  const start = int(rng, 0, options.length - 1);
  for (let i = 0; i < options.length; i++) {
    const v = options[(start + i) % options.length] as string;
    // keep only true case changes: 'ß'.toUpperCase() is 'SS', which lower-cases back to 'ss'
    if (v !== name && v.toLocaleLowerCase() === name.toLocaleLowerCase()) return v;
  }
  return name; // no cased letters at all (not produced by generateCustomers)
}

function spacesVariant(rng: Rng, name: string): string {
  const inner = [...name.matchAll(/ /g)].map((m) => m.index);
  switch (int(rng, 0, 3)) {
    case 0:
      return `  ${name}`;
    case 1:
      return `${name} `;
    case 2:
      return ` ${name}  `;
    default: {
      if (inner.length === 0) return `${name}  `;
      const at = pick(rng, inner);
      return `${name.slice(0, at)}  ${name.slice(at + 1)}`; // duplicated inner space
    }
  }
}

/**
 * Picks round(fraction * count) customers and returns the organisation name a person typed in
 * Pipedrive: a third exact, a third in different letter case, a third with extra spaces. Sorted by code.
 * Every returned name equals the QAD name after whitespace normalisation (normaliseSpaces) and
 * toLocaleLowerCase(); 'case' variants never rely on length-changing case maps such as ß -> SS.
 */
export function preexistingOrganizationNames(
  customers: QadCustomerRow[],
  fraction: number,
  seed: number,
): Array<{ code: string; name: string; variant: NameVariant }> {
  const rng = mulberry32(seed);
  const picked = sampleIndexes(rng, customers.length, Math.round(fraction * customers.length));
  const kinds: readonly NameVariant[] = ['exact', 'case', 'spaces'];
  const out = picked.map((index, i) => {
    const c = customers[index] as QadCustomerRow;
    const name = c['ad_mstr.ad_name'];
    const variant = kinds[i % 3] as NameVariant;
    const typed = variant === 'exact' ? name : variant === 'case' ? caseVariant(rng, name) : spacesVariant(rng, name);
    return { code: c['cm_mstr.cm_addr'], name: typed, variant };
  });
  return out.sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
}

type CustomerPatch = Partial<QadCustomerRow> & { 'cm_mstr.cm_addr': string };

/**
 * Picks round(fraction * count) customers and returns one content change for each (phone, address
 * line, credit limit, e-mail, terms or city), always different from the current value. Sorted by code.
 */
export function mutateCustomers(customers: QadCustomerRow[], fraction: number, seed: number): CustomerPatch[] {
  const rng = mulberry32(seed);
  const picked = sampleIndexes(rng, customers.length, Math.round(fraction * customers.length));
  const out = picked.map((index): CustomerPatch => {
    const c = customers[index] as QadCustomerRow;
    const code = c['cm_mstr.cm_addr'];
    switch (int(rng, 0, 5)) {
      case 0: {
        let phone = `+49 89 ${digits(rng, 7)}`;
        if (phone === c['ad_mstr.ad_phone']) phone = `${phone}0`;
        return { 'cm_mstr.cm_addr': code, 'ad_mstr.ad_phone': phone };
      }
      case 1:
        return { 'cm_mstr.cm_addr': code, 'ad_mstr.ad_line2': `${c['ad_mstr.ad_line2']} Wareneingang Tor ${int(rng, 1, 9)}`.trim() };
      case 2:
        return { 'cm_mstr.cm_addr': code, 'cm_mstr.cm_cr_limit': c['cm_mstr.cm_cr_limit'] + int(rng, 1, 20) * 5000 };
      case 3: {
        const [local = 'info', host = 'example.com'] = c['ad_mstr.ad_email'].split('@');
        return { 'cm_mstr.cm_addr': code, 'ad_mstr.ad_email': `${local === 'accounts' ? 'billing' : 'accounts'}@${host}` };
      }
      case 4: {
        const terms = TERMS.filter((t) => t !== c['cm_mstr.cm_cr_terms']);
        return { 'cm_mstr.cm_addr': code, 'cm_mstr.cm_cr_terms': pick(rng, terms) };
      }
      default:
        return {
          'cm_mstr.cm_addr': code,
          'ad_mstr.ad_line1': `${c['ad_mstr.ad_line1']}a`,
          'ad_mstr.ad_zip': postalCode(rng, c['ad_mstr.ad_country']),
        };
    }
  });
  return out.sort((a, b) => (a['cm_mstr.cm_addr'] < b['cm_mstr.cm_addr'] ? -1 : a['cm_mstr.cm_addr'] > b['cm_mstr.cm_addr'] ? 1 : 0));
}

const FIRST_NAMES: Record<string, readonly string[]> = {
  DE: ['Jürgen', 'Anja', 'Klaus', 'Sabine', 'Matthias', 'Katrin', 'Jörg', 'Ute', 'Stefan', 'Bärbel'],
  FR: ['Hélène', 'Jérôme', 'Céline', 'François', 'Amélie', 'Benoît', 'Élodie', 'Stéphane'],
  ES: ['José', 'María', 'Íñigo', 'Lucía', 'Javier', 'Begoña', 'Andrés', 'Inés'],
  IT: ['Giuseppe', 'Francesca', 'Marco', 'Chiara', 'Niccolò', 'Giulia', 'Luca', 'Elena'],
  GB: ['James', 'Sarah', 'Oliver', 'Emma', 'Gareth', 'Siobhan', 'Thomas', 'Chloe'],
  US: ['Michael', 'Jennifer', 'David', 'Ashley', 'Robert', 'Jessica', 'Daniel', 'Amanda'],
  NL: ['Jeroen', 'Anouk', 'Sander', 'Femke', 'Bram', 'Lieke', 'Joost', 'Sanne'],
  SE: ['Björn', 'Åsa', 'Lars', 'Karin', 'Göran', 'Maja', 'Anders', 'Linnéa'],
  PL: ['Łukasz', 'Agnieszka', 'Paweł', 'Małgorzata', 'Tomasz', 'Joanna', 'Michał', 'Katarzyna'],
  CZ: ['Jiří', 'Petra', 'Tomáš', 'Lucie', 'Jan', 'Kateřina', 'Ondřej', 'Tereza'],
};
const CONTACT_TITLES = [
  'Purchasing Manager',
  'Buyer',
  'Managing Director',
  'Head of Engineering',
  'Accounts Payable',
  'Logistics Coordinator',
  'Quality Manager',
  'Plant Manager',
] as const;

function localeOf(country: string): Locale {
  return LOCALES.find((l) => l.country === country) ?? (LOCALES[0] as Locale);
}

/**
 * `perCustomer` contacts for every customer (ids CT0000001...). Exactly one primary per customer (its first,
 * always active); of the others about 15% lack an e-mail, 15% a phone and 15% are inactive. Mod dates are up to
 * 60 days before the customer's cm_mod_date. Deterministic for the same inputs.
 */
export function generateContacts(customers: readonly QadCustomerRow[], perCustomer: number, seed: number): QadContactRow[] {
  if (!Number.isInteger(perCustomer) || perCustomer < 0) throw new Error(`perCustomer must be a non-negative integer: ${perCustomer}`);
  if (customers.length * perCustomer > 9_999_999) throw new Error('too many contacts for CT####### ids');
  const rng = mulberry32(seed);
  const rows: QadContactRow[] = [];
  let n = 0;
  for (const c of customers) {
    const loc = localeOf(c['ad_mstr.ad_country']);
    const firsts = FIRST_NAMES[loc.country] ?? FIRST_NAMES['US'] ?? ['Alex'];
    const host = c['ad_mstr.ad_email'].split('@')[1] ?? `example.${loc.tld}`;
    const used = new Set<string>();
    for (let k = 0; k < perCustomer; k++) {
      n += 1;
      const primary = k === 0;
      const first = pick(rng, firsts);
      const last = pick(rng, loc.surnames);
      let local = `${slug(first)}.${slug(last)}`.replace(/-/g, '');
      for (let i = 2; used.has(local); i++) local = `${slug(first)}.${slug(last)}${i}`.replace(/-/g, '');
      used.add(local);
      const noEmail = !primary && rng() < 0.15;
      const noPhone = !primary && rng() < 0.15;
      const inactive = !primary && rng() < 0.15;
      rows.push({
        'ct_mstr.ct_id': `CT${String(n).padStart(7, '0')}`,
        'ct_mstr.ct_cust': c['cm_mstr.cm_addr'],
        'ct_mstr.ct_name': `${first} ${last}`,
        'ct_mstr.ct_email': noEmail ? '' : `${local}@${host}`,
        'ct_mstr.ct_phone': noPhone ? '' : loc.phone(rng),
        'ct_mstr.ct_title': pick(rng, CONTACT_TITLES),
        'ct_mstr.ct_primary': primary,
        'ct_mstr.ct_active': !inactive,
        'ct_mstr.ct_mod_date': addDays(c['cm_mstr.cm_mod_date'], -int(rng, 0, 60)),
      });
    }
  }
  return rows;
}

const ITEM_NOUNS = [
  'Bearing',
  'Flange',
  'Gear',
  'Shaft',
  'Bracket',
  'Valve',
  'Coupling',
  'Housing',
  'Bushing',
  'Sprocket',
  'Pulley',
  'Gasket',
  'Seal Kit',
  'Spindle',
  'Manifold',
] as const;
const ITEM_ADJ = ['Steel', 'Stainless', 'Aluminium', 'Brass', 'Heavy-Duty', 'Precision', 'Hardened', 'Cast Iron', 'Polymer'] as const;
const ITEM_SPEC = ['', '', 'DIN 912', 'ISO 4762', 'M8 x 40', 'Ø 25 mm', '1/2" NPT', 'Class 150', 'IP67', 'RoHS'] as const;
const ITEM_UM = ['EA', 'EA', 'EA', 'PC', 'KG', 'M', 'BX'] as const;
export const PROD_LINES = ['1000', '2000', '3000', '4000', '5000'] as const;
export const ITEM_STATUS = ['ACTIVE', 'ACTIVE', 'ACTIVE', 'ACTIVE', 'ACTIVE', 'ACTIVE', 'PLANNING', 'OBSOLETE'] as const;

/** `count` items (parts 10-00001...), mostly ACTIVE, mod dates within 120 days before `today`. Deterministic. */
export function generateItems(opts: { count: number; seed: number; today: string }): QadItemRow[] {
  const { count, seed, today } = opts;
  if (!Number.isInteger(count) || count < 0) throw new Error(`count must be a non-negative integer: ${count}`);
  if (count > 99_999) throw new Error('count too large for 10-##### parts');
  addDays(today, 0); // validates
  const rng = mulberry32(seed);
  const rows: QadItemRow[] = [];
  for (let n = 1; n <= count; n++) {
    rows.push({
      'pt_mstr.pt_part': `10-${String(n).padStart(5, '0')}`,
      'pt_mstr.pt_desc1': `${pick(rng, ITEM_ADJ)} ${pick(rng, ITEM_NOUNS)}`,
      'pt_mstr.pt_desc2': pick(rng, ITEM_SPEC),
      'pt_mstr.pt_um': pick(rng, ITEM_UM),
      'pt_mstr.pt_prod_line': pick(rng, PROD_LINES),
      'pt_mstr.pt_status': pick(rng, ITEM_STATUS),
      'pt_mstr.pt_price': int(rng, 50, 250_000) / 100,
      'pt_mstr.pt_mod_date': addDays(today, -int(rng, 0, 120)),
    });
  }
  return rows;
}

const FX: Record<string, number> = { EUR: 1, USD: 1.08, GBP: 0.86, CHF: 0.95, SEK: 11.5, PLN: 4.3, CZK: 25.2 };

function money(v: number): number {
  return Math.round(v * 100) / 100;
}

/**
 * Price rows: list STD for every item and currency, list VOLUME (about 10% lower) for roughly 40% of the items.
 * pt_price is taken as EUR and converted at fixed rates (unknown currencies at 1). Mod dates are up to 30 days
 * before the item's. Sorted by list, part, currency; deterministic.
 */
export function generatePrices(items: readonly QadItemRow[], currencies: readonly string[], seed: number): QadPriceRow[] {
  const rng = mulberry32(seed);
  const currs = [...new Set(currencies)].sort();
  const rows: QadPriceRow[] = [];
  for (const item of items) {
    const volume = rng() < 0.4;
    for (const curr of currs) {
      const base = item['pt_mstr.pt_price'] * (FX[curr] ?? 1) * (0.97 + rng() * 0.06);
      const row = (list: string, price: number): QadPriceRow => ({
        'pi_mstr.pi_list': list,
        'pi_mstr.pi_part_code': item['pt_mstr.pt_part'],
        'pi_mstr.pi_curr': curr,
        'pi_mstr.pi_list_price': money(price),
        'pi_mstr.pi_mod_date': addDays(item['pt_mstr.pt_mod_date'], -int(rng, 0, 30)),
      });
      rows.push(row('STD', base));
      if (volume) rows.push(row('VOLUME', base * 0.9));
    }
  }
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return rows.sort(
    (a, b) =>
      cmp(a['pi_mstr.pi_list'], b['pi_mstr.pi_list']) ||
      cmp(a['pi_mstr.pi_part_code'], b['pi_mstr.pi_part_code']) ||
      cmp(a['pi_mstr.pi_curr'], b['pi_mstr.pi_curr']),
  );
}

/** How a person may type a name that is the same name to a reader: letter case, spacing, a no-break space, decomposed accents. */
export type TypedVariant = 'case' | 'spaces' | 'no-break space' | 'decomposed';
const TYPED_VARIANTS: readonly TypedVariant[] = ['case', 'spaces', 'no-break space', 'decomposed'];

/** `name` as a person typed it in the given variant (NFKC and ß/ss forms are near-identical names, not these). */
export function typedVariant(rng: Rng, name: string, variant: TypedVariant): string {
  if (variant === 'case') return caseVariant(rng, name);
  if (variant === 'spaces') return spacesVariant(rng, name);
  if (variant === 'no-break space') return name.includes(' ') ? name.replace(' ', '\u00a0') : `${name}\u00a0`;
  return name.normalize('NFD');
}

/**
 * What sales people type into Pipedrive on go-live morning while the first sync runs: matches of QAD
 * records that are not in Pipedrive yet, `n` in all, a third each of organizations (customers'
 * names in one of the typed variants), persons (a contact's email, in its customer's organization)
 * and products (an item's code). Persons are picked among contacts whose customer is in `customers`.
 */
export function typedDuringSync(
  opts: { customers: readonly QadCustomerRow[]; contacts: readonly QadContactRow[]; items: readonly QadItemRow[] },
  n: number,
  seed: number,
): {
  organizations: Array<{ code: string; name: string; variant: TypedVariant }>;
  persons: Array<{ contactId: string; customerCode: string; name: string; email: string }>;
  products: Array<{ code: string; name: string }>;
} {
  const rng = mulberry32(seed + 7);
  const third = Math.ceil(n / 3);
  const organizations = sampleIndexes(rng, opts.customers.length, Math.min(third, opts.customers.length)).map((index, i) => {
    const c = opts.customers[index] as QadCustomerRow;
    const variant = TYPED_VARIANTS[i % TYPED_VARIANTS.length] as TypedVariant;
    return { code: c['cm_mstr.cm_addr'], name: typedVariant(rng, c['ad_mstr.ad_name'], variant), variant };
  });
  const reachable = opts.contacts.filter((c) => c['ct_mstr.ct_email'] && c['ct_mstr.ct_active']);
  const persons = sampleIndexes(rng, reachable.length, Math.min(third, reachable.length)).map((index) => {
    const c = reachable[index] as QadContactRow;
    return {
      contactId: c['ct_mstr.ct_id'],
      customerCode: c['ct_mstr.ct_cust'],
      name: typedVariant(rng, c['ct_mstr.ct_name'], pick(rng, TYPED_VARIANTS)),
      email: c['ct_mstr.ct_email'].toUpperCase(),
    };
  });
  const products = sampleIndexes(rng, opts.items.length, Math.min(Math.max(0, n - 2 * third), opts.items.length)).map((index) => {
    const item = opts.items[index] as QadItemRow;
    return { code: item['pt_mstr.pt_part'], name: item['pt_mstr.pt_desc1'] };
  });
  return { organizations, persons, products };
}
