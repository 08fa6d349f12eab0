"""Names and places for the demo's clients: who lives in each store's city, and where.

Name pools per culture keep their accents (Zoë, François, Müller, Yūko, Thảo); each city mixes
cultures the way its clientele does.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# -- names --------------------------------------------------------------------------------------

# fmt: off
#: culture -> (female first names, male first names, family names)
NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "en": (
        ("Olivia", "Emma", "Charlotte", "Amelia", "Sophie", "Isla", "Grace", "Hannah", "Madison", "Abigail",
         "Eleanor", "Chloe", "Alice", "Harriet", "Georgia", "Lucy", "Rebecca", "Jessica", "Lauren", "Ava",
         "Victoria", "Natalie", "Megan", "Kate", "Imogen", "Poppy"),
        ("James", "Oliver", "William", "Henry", "Jack", "Thomas", "Daniel", "Samuel", "Benjamin", "Alexander",
         "Matthew", "Ethan", "Nathan", "George", "Edward", "Lachlan", "Ryan", "Christopher"),
        ("Smith", "Johnson", "Williams", "Brown", "Taylor", "Davies", "Wilson", "Evans", "Thomas", "Roberts",
         "Walker", "Wright", "Thompson", "White", "Hughes", "Edwards", "Green", "Hall", "Wood", "Harris",
         "Clarke", "Jackson", "Turner", "Parker", "Cooper", "Morgan", "Bennett", "Foster", "Campbell",
         "Mitchell", "Carter", "Reed", "Hayes", "Sullivan", "Fitzgerald", "Whitaker"),
    ),
    "ie": (
        ("Siobhán", "Niamh", "Aoife", "Saoirse", "Róisín", "Ciara", "Orla"),
        ("Seán", "Cian", "Oisín", "Declan", "Eoin", "Pádraig"),
        ("O'Brien", "O'Connor", "McCarthy", "Kelly", "Murphy", "Byrne", "O'Sullivan", "Ó Súilleabháin", "Doyle"),
    ),
    "es": (
        ("Sofía", "Lucía", "María José", "Valentina", "Camila", "Ximena", "Inés", "Paloma", "Begoña"),
        ("José", "Álvaro", "Andrés", "Martín", "Mateo", "Javier", "Joaquín", "Raúl"),
        ("García", "Rodríguez", "Martínez", "Hernández", "López", "González", "Pérez", "Sánchez", "Ramírez",
         "Núñez", "Peña", "Muñoz", "Ibáñez", "Castillo", "Ortega"),
    ),
    "fr": (
        ("Camille", "Chloé", "Léa", "Zoë", "Inès", "Hélène", "Amélie", "Manon", "Élodie", "Juliette",
         "Clémence", "Margaux", "Anaïs", "Louise", "Céline", "Sophie", "Noémie", "Agathe", "Bérénice"),
        ("François", "Benoît", "Jérôme", "Théo", "Étienne", "Loïc", "Gaël", "Antoine", "Hugo", "Mathis",
         "Louis", "Rémi", "Aurélien", "Grégoire"),
        ("Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Laurent", "Girard", "Fournier", "Mercier",
         "Dupont", "Lemaître", "Chevalier", "Rousseau", "Faure", "Gauthier", "Bénard", "Roux", "Lambert",
         "Fontaine", "Marchand", "Duval", "Leroy", "Perrin", "Morel", "de La Tour"),
    ),
    "qc": (
        ("Geneviève", "Mélanie", "Marie-Ève", "Josée", "Catherine", "Émilie", "Maude"),
        ("Frédéric", "Étienne", "Jean-François", "Mathieu", "Simon", "Olivier"),
        ("Tremblay", "Gagnon", "Roy", "Côté", "Bouchard", "Gauthier", "Bélanger", "Lévesque", "Pelletier"),
    ),
    "it": (
        ("Giulia", "Chiara", "Francesca", "Martina", "Sofia", "Alessia", "Beatrice", "Elena", "Ginevra",
         "Ludovica", "Caterina", "Federica", "Bianca"),
        ("Niccolò", "Lorenzo", "Matteo", "Alessandro", "Tommaso", "Leonardo", "Federico", "Andrea", "Riccardo",
         "Gianluca"),
        ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "De Luca",
         "Galli", "Conti", "Greco", "Bruno", "Mancini", "Lombardi", "Barbieri", "Fontana", "Sala", "D'Angelo"),
    ),
    "de": (
        ("Lena", "Zoë", "Anneliese", "Katharina", "Jördis", "Sophie", "Marlene", "Franziska"),
        ("Jürgen", "Jörg", "Lukas", "Maximilian", "Felix", "Matthias", "Björn"),
        ("Müller", "Schröder", "Köhler", "Weiß", "Jäger", "Schmidt", "Schneider", "Fischer", "Weber", "Becker",
         "Schäfer", "Hoffmann", "Krüger"),
    ),
    "nordic": (
        ("Åsa", "Ingrid", "Freja", "Sigrid", "Maja", "Linnéa"),
        ("Søren", "Magnus", "Anders", "Mikkel", "Henrik"),
        ("Lindqvist", "Sørensen", "Åberg", "Johansson", "Nielsen", "Halvorsen", "Løvgren"),
    ),
    "ja": (
        ("Yuki", "Haruka", "Aoi", "Sakura", "Yui", "Yūko", "Mei", "Rin", "Emi", "Natsuki", "Ayaka", "Misaki"),
        ("Hiroshi", "Takumi", "Ren", "Sōta", "Kenji", "Daiki", "Kōji", "Haruto", "Yūto"),
        ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi",
         "Kato", "Saitō", "Ōta", "Mori", "Ishikawa", "Hayashi", "Fujita", "Ogawa"),
    ),
    "zh": (
        ("Mei", "Jia", "Xinyi", "Yuting", "Wen", "Lina", "Hui"),
        ("Wei", "Jun", "Hao", "Jian", "Ming", "Chen"),
        ("Chen", "Wang", "Li", "Zhang", "Liu", "Huang", "Zhou", "Wu", "Lin", "Cheung"),
    ),
    "ko": (
        ("Ji-woo", "Seo-yeon", "Min-ji", "Ha-eun", "Soo-ah"),
        ("Min-jun", "Do-yun", "Ji-ho", "Seung-woo"),
        ("Kim", "Park", "Lee", "Choi", "Jung", "Kang", "Yoon"),
    ),
    "vi": (("Linh", "Thảo", "Mai", "Ngọc", "Trang"), ("Minh", "Huy", "Quang", "Tuấn"),
           ("Nguyen", "Tran", "Le", "Pham", "Vu", "Dang")),
    "gr": (("Eleni", "Katerina", "Sofia", "Despina"), ("Nikos", "Georgios", "Dimitris"),
           ("Papadopoulos", "Georgiou", "Konstantinidis", "Nikolaidis")),
    "ar": (
        ("Fatima", "Mariam", "Aisha", "Noura", "Layla", "Hessa", "Maitha", "Shamma", "Rania", "Yasmin", "Dana"),
        ("Omar", "Khalid", "Ahmed", "Rashid", "Saeed", "Hamdan", "Youssef", "Karim", "Tariq"),
        ("Al Falasi", "Al Suwaidi", "Al Hashimi", "Al Mazrouei", "Al Ketbi", "Haddad", "Khoury", "Nasser",
         "Rahman", "Saleh", "Mansour", "Benali", "El Amrani"),
    ),
    "in": (
        ("Priya", "Ananya", "Kavya", "Ishita", "Aditi", "Meera", "Nandini", "Riya"),
        ("Arjun", "Rohan", "Vikram", "Aarav", "Karan", "Siddharth"),
        ("Sharma", "Mehta", "Patel", "Iyer", "Reddy", "Kapoor", "Nair", "Menon", "Chopra", "Desai"),
    ),
}
#: More names per culture (female | male | family), so that two clients rarely share a full name.
_MORE = {
    "en": (
        "Emily Sarah Anna Katherine Elizabeth Mary Caroline Julia Sophia Isabella Mia Evelyn Ella Scarlett Zoe Lily"
        " Hazel Violet Nora Stella Claire Maya Ruby Florence Matilda Rose Evie Phoebe Daisy Holly Jasmine Leah Naomi"
        " Rachel Samantha Beatrix Penelope Clementine Ottilie Willow",
        "Michael David John Robert Joseph Andrew Luke Charlie Oscar Leo Max Archie Finn Harrison Sebastian Adam"
        " Patrick Nicholas Jonathan Tyler Hugo Theodore Felix Rupert",
        "Anderson Martin Lee Allen Young King Scott Adams Baker Nelson Hill Ramsey Collins Stewart Morris Cook"
        " Rogers Bell Bailey Richardson Cox Howard Ward Peterson Gray Watson Brooks Sanders Price Barnes Ross"
        " Henderson Coleman Jenkins Perry Powell Long Patterson Butler Simmons Bryant Russell Griffin Myers Ford"
        " Hamilton Graham Wallace Woods Cole West Jordan Owens Reynolds Fisher Ellis Harrison Gibson Marshall Wells"
        " Webb Tucker Porter Hunter Hicks Crawford Boyd Mason Warren Dixon Burns Gordon Shaw Holmes Rice Robertson"
        " Hunt Black Daniels Palmer Mills Grant Knight Ferguson Stone Hawkins Dunn Perkins Spencer Gardner Payne"
        " Pierce Berry Matthews Arnold Wagner Willis Watkins Carroll Duncan Snyder Hart Cunningham Bradley Lane"
        " Andrews Harper Fox Riley Armstrong Carpenter Weaver Lawrence Elliott Franklin Lawson Ashworth Pemberton",
    ),
    "fr": (
        "Mathilde Adèle Capucine Éléonore Apolline Joséphine Romane Océane Pauline Lucie Mélissa Gabrielle Maëlle"
        " Solène Ophélie Victoire Héloïse Constance Laure Charlotte",
        "Baptiste Clément Maxime Lucas Raphaël Arthur Jules Valentin Quentin Thibault Côme Augustin Pierre Adrien",
        "Petit Durand Leroy Simon Michel Lefebvre David Bertrand Vincent Blanc Guérin Boyer Garnier Legrand Robin"
        " Clément Morin Nicolas Henry Roussel Mathieu Masson Denis Dumont Lemaire Noël Meyer Dufour Meunier Brun"
        " Blanchard Giraud Joly Rivière Brunet Gaillard Barbier Arnaud Gérard Roche Renard Leroux Colin Vidal Caron"
        " Picard Fabre Aubert Lemoine Renaud Dumas Lacroix Olivier Bourgeois Rey Leclerc Rolland Guillot Hubert"
        " Berger Carpentier Dupuis Moulin Deschamps Huet Vasseur Boucher Fleury Royer Jacquet Poirier Aubry Guyot"
        " Carré Renault Charpentier Ménard Maillard Baron Bertin Bailly Hervé Collet Léger Bouvier Prévost Millet",
    ),
    "it": (
        "Aurora Giorgia Greta Emma Vittoria Noemi Arianna Rebecca Camilla Anna Irene Matilde Lucrezia Benedetta",
        "Francesco Gabriele Edoardo Pietro Giovanni Diego Filippo Marco Luca Stefano Davide Emanuele",
        "Gallo Costa Giordano Rizzo Moretti Caruso Ferrara Santoro Rinaldi Leone Longo Gentile Martinelli Vitale"
        " Serra Coppola Cattaneo Villa Pellegrini Palumbo Sanna Farina Monti Bellini Cattani Benedetti Orlando"
        " Testa Parisi Grasso Morelli Valentini Silvestri Guerra Marchetti Negri Ferri Fabbri Colombo Pagano",
    ),
    "ja": (
        "Mio Hina Yuna Koharu Akari Saki Nanami Kaede Honoka Chihiro Mayu Airi Asuka Reina Kanako Tomoko Noriko",
        "Yuma Riku Kaito Shota Yusuke Takeshi Naoki Ryota Kazuki Shun Tatsuya",
        "Yoshida Yamada Sasaki Yamaguchi Matsumoto Inoue Kimura Shimizu Yamazaki Abe Ikeda Hashimoto Yamashita"
        " Ishii Maeda Fujii Okada Goto Hasegawa Murakami Kondo Ishida Sakamoto Endo Aoki Fujiwara Nishimura Fukuda"
        " Miura Takeuchi Nakajima Okamoto Matsuda Harada Nakagawa Nakano Ono Tamura Takeda Ueda Morita Hara Shibata"
        " Sakai Kudo Yokoyama Miyazaki Uchida Takagi Ando Taniguchi Ohno Maruyama Imai Kawaguchi Sugiyama",
    ),
    "ar": (
        "Amal Latifa Salma Reem Sara Lina Hind Mouza Alia Nadia Zainab Jamila",
        "Mohammed Sultan Abdullah Faisal Majid Nasser Zayed Ali Yousef Hassan",
        "Hamdan Ibrahim Youssef Kanaan Farouk Bishara Aziz Darwish Karam Qasim Othman Sabbagh Tannous Zayed",
    ),
    "in": (
        "Aishwarya Divya Pooja Shreya Tanvi Lakshmi Radhika Sneha Anjali Neha",
        "Rahul Aditya Nikhil Varun Rajesh Anil Sanjay Dev",
        "Gupta Singh Kumar Agarwal Joshi Bhatt Malhotra Verma Pillai Rao Banerjee Chatterjee Mukherjee Shah Sethi",
    ),
    "es": ("Carmen Elena Alba Carla Daniela Adriana Marta Noelia", "Diego Pablo Sergio Alejandro Hugo Iván",
           "Torres Flores Rivera Gómez Díaz Morales Jiménez Romero Ruiz Navarro Domínguez Vázquez Ramos Gil Serrano"),
    "zh": ("Xiaoling Yan Fang Jing Qian Ying", "Lei Tao Bo Yong Qiang",
           "Yang Zhao Xu Sun Ma Zhu Hu Guo He Gao Luo Zheng Liang Xie Song Tang Han Feng Deng Cao"),
    "ko": ("Ye-jin Eun-ji Hye-won Su-bin Na-yeon Da-eun Yu-na Ji-min So-yeon Hyun-joo",
           "Jae-hyun Sung-min Tae-yang Hyun-woo Jun-seo Dong-hyun", "Kwon Cho Yoo Lim Han Shin Oh Seo Song Hwang"),
    "gr": ("Maria Ioanna Vasiliki Georgia Anastasia Christina Dimitra Athina Theodora",
           "Konstantinos Ioannis Christos Alexandros Panagiotis",
           "Papadakis Alexiou Vlachos Karalis Antonopoulos Makris Oikonomou Dimitriou Kostopoulos Pappas"),
    "vi": ("Huong Lan Phuong Hoa Anh Vy Quynh", "Duc Khoa Nam Long Bao", "Hoang Phan Bui Do Ho Ngo Duong Ly"),
    "de": ("Hannah Leonie Johanna Charlotte Clara Ida", "Paul Jonas Leon Niklas Tobias",
           "Wagner Becker Wolf Schulz Neumann Braun Zimmermann Hartmann Lange Werner Krause Lehmann"),
    "qc": ("Annie Julie Isabelle Karine Nathalie", "Louis-Philippe Sébastien Marc-André Guillaume",
           "Lavoie Fortin Gagné Ouellet Morin Thibault Girard Poirier Caron"),
    "nordic": ("Astrid Elsa Karin Liv Ebba", "Erik Lars Nils Oskar", "Andersson Karlsson Berg Dahl Lund Holm"),
    "ie": ("Clodagh Gráinne Méabh Sinéad", "Ciarán Colm Darragh Rónán", "Walsh Ryan Quinn Brennan Gallagher Nolan"),
}
for _culture, (_female, _male, _family) in _MORE.items():
    _f, _m, _l = NAMES[_culture]
    NAMES[_culture] = (_f + tuple(_female.split()), _m + tuple(_male.split()), _l + tuple(_family.split()))
LANGUAGE = {"fr": "fr", "qc": "fr", "it": "it", "de": "de", "ja": "ja", "es": "es", "ar": "ar", "zh": "zh",
            "ko": "ko", "nordic": "sv", "vi": "vi", "gr": "el"}  # fmt: skip
COUNTRY_LANGUAGE = {"FR": "fr", "IT": "it", "JP": "ja"}
# fmt: on


@dataclass(frozen=True)
class City:
    name: str
    country: str
    region: str | None
    store: str | None
    cultures: tuple[tuple[str, int], ...]
    streets: tuple[str, ...]
    #: "10001-10040" is a range; "W1U *" / "150-00*" get their last characters drawn (see postcode()).
    postcodes: tuple[str, ...]
    dial: tuple[str, ...] = ()  # North American area codes


# fmt: off
_EN_MIX = (("en", 60), ("ie", 5), ("es", 8), ("zh", 6), ("in", 6), ("it", 4), ("fr", 3), ("de", 3), ("ko", 3),
           ("ar", 2))
CITIES: tuple[City, ...] = (
    City("New York", "US", "NY", "NYC-MAD",
         (("en", 52), ("es", 12), ("zh", 6), ("ko", 4), ("in", 5), ("it", 5), ("ie", 4), ("fr", 4), ("de", 3),
          ("ar", 3), ("ja", 2)),
         ("Madison Avenue", "Park Avenue", "Lexington Avenue", "West 72nd Street", "Bleecker Street",
          "East 84th Street", "Bedford Avenue", "Hudson Street", "Greenwich Street", "Riverside Drive"),
         ("10001-10040", "10065", "10075", "10128", "11201-11238"), ("212", "646", "917", "718", "347")),
    City("Los Angeles", "US", "CA", "LAX-MEL",
         (("en", 45), ("es", 24), ("ko", 8), ("zh", 8), ("in", 4), ("ja", 4), ("fr", 3), ("ar", 4)),
         ("Sunset Boulevard", "Wilshire Boulevard", "Melrose Avenue", "Abbot Kinney Boulevard", "Beverly Drive",
          "Montana Avenue", "Los Feliz Boulevard", "Ocean Avenue"),
         ("90004-90069", "90210-90212", "90401-90405"), ("310", "213", "323", "424")),
    City("Chicago", "US", "IL", "CHI-MAG",
         (("en", 55), ("es", 14), ("ie", 8), ("gr", 5), ("de", 5), ("in", 6), ("zh", 5), ("it", 2)),
         ("North Michigan Avenue", "West Armitage Avenue", "North Clark Street", "North State Parkway",
          "West Division Street", "North Halsted Street"),
         ("60601-60661",), ("312", "773", "872")),
    City("Toronto", "CA", "ON", "TOR-BLO",
         (("en", 45), ("qc", 10), ("zh", 14), ("in", 12), ("it", 6), ("ko", 5), ("gr", 4), ("es", 4)),
         ("Queen Street West", "Yonge Street", "Bloor Street West", "Avenue Road", "King Street East", "Spadina Road",
          "Roxborough Street West"),
         ("M5S *", "M5R *", "M4W *", "M5V *", "M6J *", "M5A *", "M4V *", "M6G *", "M4Y *"), ("416", "647", "437")),
    City("London", "GB", None, "LON-MRY",
         (("en", 55), ("in", 12), ("ie", 6), ("fr", 6), ("it", 5), ("es", 4), ("ar", 6), ("nordic", 3), ("de", 3)),
         ("Marylebone High Street", "King's Road", "Portobello Road", "Upper Street", "Westbourne Grove",
          "Elgin Crescent", "Fulham Road", "Gloucester Avenue", "Old Church Street"),
         ("W1U *", "W1G *", "SW3 *", "W11 *", "N1 *", "W2 *", "SW10 *", "NW1 *", "NW3 *", "E8 *", "SE1 *", "W8 *")),
    City("Paris", "FR", "Île-de-France", "PAR-FSH",
         (("fr", 72), ("ar", 8), ("it", 5), ("es", 4), ("de", 3), ("ja", 3), ("en", 5)),
         ("rue de Rivoli", "rue du Bac", "boulevard Saint-Germain", "rue des Martyrs", "avenue Montaigne",
          "rue de Grenelle", "rue Oberkampf", "rue de Turenne", "avenue de la Bourdonnais", "rue Lepic"),
         ("75001-75020", "92100", "92200", "94300", "78000")),
    City("Milano", "IT", "MI", "MIL-MNP",
         (("it", 80), ("fr", 5), ("de", 4), ("es", 4), ("en", 4), ("ar", 3)),
         ("Via Montenapoleone", "Corso Como", "Via Torino", "Corso Buenos Aires", "Via Brera", "Corso Magenta",
          "Via Solferino", "Viale Piave"),
         ("20121-20162",)),
    City("Tokyo", "JP", "Tokyo", "TYO-AOY",
         (("ja", 88), ("en", 5), ("zh", 4), ("ko", 3)),
         ("Jingumae, Shibuya-ku", "Minami-Aoyama, Minato-ku", "Daikanyama-cho, Shibuya-ku", "Nakameguro, Meguro-ku",
          "Azabu-Juban, Minato-ku", "Ginza, Chuo-ku", "Kagurazaka, Shinjuku-ku"),
         ("150-00*", "107-00*", "153-00*", "106-00*", "104-00*", "162-08*")),
    City("Dubai", "AE", "Dubai", "DXB-MALL",
         (("ar", 50), ("in", 25), ("en", 15), ("fr", 4), ("es", 3), ("it", 3)),
         ("Jumeirah 1", "Al Wasl Road", "Emirates Hills", "Dubai Marina", "Downtown Dubai", "Palm Jumeirah",
          "Umm Suqeim 2"),
         ("",)),
    City("Sydney", "AU", "NSW", "SYD-PIT",
         (("en", 55), ("zh", 12), ("vi", 8), ("gr", 6), ("it", 6), ("in", 6), ("ko", 4), ("ie", 3)),
         ("Oxford Street", "Glenmore Road", "Military Road", "Bondi Road", "Crown Street", "Queen Street",
          "Macleay Street"),
         ("2000-2234",)),
    # Online-only clients outside the store cities, served by the online experts.
    City("Boston", "US", "MA", None,
         _EN_MIX,
         ("Newbury Street", "Beacon Street", "Commonwealth Avenue"),
         ("02108-02136",), ("617", "857")),
    City("San Francisco", "US", "CA", None,
         _EN_MIX,
         ("Fillmore Street", "Valencia Street", "Union Street"),
         ("94102-94134",), ("415", "628")),
    City("Miami", "US", "FL", None,
         (("es", 45), ("en", 45), ("fr", 5), ("it", 5)),
         ("Collins Avenue", "Brickell Avenue", "Ocean Drive"),
         ("33125-33145",), ("305", "786")),
    City("Vancouver", "CA", "BC", None,
         (("en", 60), ("zh", 20), ("ko", 5), ("in", 10), ("qc", 5)),
         ("Robson Street", "West 4th Avenue", "Main Street"),
         ("V6E *", "V6K *", "V5T *"), ("604", "778")),
    City("Montréal", "CA", "QC", None,
         (("qc", 60), ("fr", 10), ("en", 20), ("it", 5), ("ar", 5)),
         ("rue Saint-Denis", "avenue Laurier Ouest", "boulevard Saint-Laurent"),
         ("H2J *", "H2V *", "H2W *"), ("514", "438")),
    City("Manchester", "GB", None, None,
         _EN_MIX,
         ("Deansgate", "King Street", "Burton Road"),
         ("M1 *", "M3 *", "M20 *")),
    City("Edinburgh", "GB", None, None,
         _EN_MIX,
         ("George Street", "Stockbridge", "Bruntsfield Place"),
         ("EH2 *", "EH3 *", "EH10 *")),
    City("Lyon", "FR", "Auvergne-Rhône-Alpes", None,
         (("fr", 85), ("it", 5), ("ar", 5), ("es", 5)),
         ("rue de la République", "quai Saint-Antoine", "rue Mercière"),
         ("69001-69009",)),
    City("Bordeaux", "FR", "Nouvelle-Aquitaine", None,
         (("fr", 88), ("es", 6), ("en", 6)),
         ("cours de l'Intendance", "rue Sainte-Catherine", "quai des Chartrons"),
         ("33000", "33100", "33200", "33300", "33800")),
    City("Roma", "IT", "RM", None,
         (("it", 90), ("es", 5), ("fr", 5)),
         ("Via del Corso", "Via Margutta", "Viale Trastevere"),
         ("00118-00199",)),
    City("Firenze", "IT", "FI", None,
         (("it", 92), ("en", 8)),
         ("Via de' Tornabuoni", "Borgo San Frediano"),
         ("50121-50145",)),
    City("Osaka", "JP", "Osaka", None,
         (("ja", 95), ("ko", 5)),
         ("Umeda, Kita-ku", "Shinsaibashi, Chuo-ku"),
         ("530-00*", "542-00*")),
    City("Kyoto", "JP", "Kyoto", None,
         (("ja", 97), ("en", 3)),
         ("Gion, Higashiyama-ku", "Karasuma, Nakagyo-ku"),
         ("605-00*", "604-81*")),
    City("Abu Dhabi", "AE", "Abu Dhabi", None,
         (("ar", 60), ("in", 25), ("en", 15)),
         ("Al Khalidiyah", "Saadiyat Island", "Al Reem Island"),
         ("",)),
    City("Melbourne", "AU", "VIC", None,
         (("en", 60), ("gr", 10), ("it", 10), ("zh", 10), ("vi", 10)),
         ("Chapel Street", "Collins Street", "Brunswick Street"),
         ("3000-3207",)),
    City("Brisbane", "AU", "QLD", None,
         (("en", 80), ("zh", 10), ("it", 10)),
         ("James Street", "Given Terrace"),
         ("4000-4179",)),
)
# fmt: on
STORE_CITIES = tuple(c for c in CITIES if c.store)
ONLINE_CITIES = tuple(c for c in CITIES if not c.store)
COUNTRY_CURRENCY = {"US": "USD", "CA": "CAD", "GB": "GBP", "FR": "EUR", "IT": "EUR", "JP": "JPY", "AE": "AED",
                    "AU": "AUD"}  # fmt: skip
#: Reserved for documentation (RFC 2606), so the demo never mails a real inbox.
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com", "inbox.example.net",
                 "post.example.org", "me.example.com", "web.example.net")  # fmt: skip

_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


def postcode(rng: random.Random, city: City) -> str | None:
    """A postcode of the right shape for the city: in a real range, or a real district plus a drawn unit."""
    spec = rng.choices(city.postcodes, weights=[_size(s) for s in city.postcodes])[0]
    if not spec:
        return None
    if spec.endswith("*"):
        head = spec[:-1]
        if city.country == "GB":
            return f"{head}{rng.randint(1, 9)}{rng.choice(_LETTERS)}{rng.choice(_LETTERS)}"
        if city.country == "CA":
            return f"{head}{rng.randint(1, 9)}{rng.choice(_LETTERS)}{rng.randint(0, 9)}"
        return f"{head}{rng.randint(1, 47):02d}"  # JP: district + block
    if "-" in spec:
        low, high = spec.split("-")
        return f"{rng.randint(int(low), int(high)):0{len(low)}d}"
    return spec


def _size(spec: str) -> int:
    if spec.endswith("*"):
        return 30
    if "-" in spec:
        low, high = spec.split("-")
        return int(high) - int(low) + 1
    return 1
