package sample

import "strings"

// Name lists of the generator. Folded to ASCII (see fold), first names have at
// most 8 characters and last names at most 9, all distinct, so that
// "first.last" plus a 2-digit suffix fits the 20 characters of a
// sAMAccountName (checked by the tests).
var firstNames = []string{
	"James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael",
	"Linda", "David", "Barbara", "William", "Susan", "Richard", "Jessica",
	"Joseph", "Sarah", "Thomas", "Karen", "Charles", "Lisa", "Daniel", "Nancy",
	"Matthew", "Betty", "Anthony", "Sandra", "Mark", "Margaret", "Donald",
	"Ashley", "Steven", "Kimberly", "Paul", "Emily", "Andrew", "Donna",
	"Joshua", "Michelle", "Kenneth", "Carol", "Kevin", "Amanda", "Brian",
	"Melissa", "George", "Deborah", "Timothy", "Sophie", "Ronald", "Rebecca",
	"Jason", "Laura", "Edward", "Helen", "Jeffrey", "Sharon", "Ryan", "Cynthia",
	"Jacob", "Kathleen", "Gary", "Amy", "Nicholas", "Angela", "Eric", "Anna",
	"Jonathan", "Brenda", "Stephen", "Pamela", "Larry", "Nicole", "Justin",
	"Emma", "Scott", "Samantha", "Brandon", "Kate", "Benjamin", "Claire",
	"Samuel", "Debra", "Gregory", "Rachel", "Frank", "Carolyn", "Raymond",
	"Janet", "Patrick", "Maria", "Jack", "Olivia", "Dennis", "Heather", "Jerry",
	"Diane", "Tyler", "Julie", "Aaron", "Joyce", "José", "Zoë", "Søren",
	"François", "Chloé", "Björn", "Renée", "Zoltán", "Aiko", "Hiroshi", "Priya",
	"Rahul", "Wei", "Mei", "Fatima", "Omar", "Ahmed", "Leila", "Ivan", "Olga",
	"Sofia", "Lucas", "Mateo", "Elena", "Noah", "Mia", "Liam", "Ava", "Ethan",
	"Isabel", "Lars", "Ingrid", "Pierre", "Amélie", "Hans", "Greta", "Marco",
	"Giulia", "Pablo", "Lucía",
}

var lastNames = []string{
	"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller",
	"Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez",
	"Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
	"Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark",
	"Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King",
	"Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams",
	"Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter",
	"Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz",
	"Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy",
	"Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson",
	"Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward",
	"Richards", "Watson", "Brooks", "Chavez", "Wood", "James", "Bennett",
	"Gray", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez", "Castillo",
	"Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez", "Müller",
	"Schmidt", "Núñez", "Ødegaard", "O'Brien", "Smith-Fox", "Dubois", "Lefèvre",
	"Rossi", "Bianchi", "Tanaka", "Suzuki", "Sato", "Chen", "Wang", "Singh",
	"Kumar", "Haddad", "Novak", "Kowalski", "Ivanova", "Larsen", "Nielsen",
	"Berg", "Lindqvist", "Jansen", "Visser", "Costa", "Silva", "Santos",
}

// titles are job titles, departments aside.
var titles = []string{
	"Analyst", "Senior Analyst", "Specialist", "Coordinator", "Manager",
	"Senior Manager", "Director", "Consultant", "Engineer", "Senior Engineer",
	"Administrator", "Associate", "Team Lead", "Assistant", "Architect",
}

// cities are office locations (the l attribute).
var cities = []string{
	"Seattle", "New York", "Chicago", "Austin", "London", "Berlin", "Paris",
	"Madrid", "Tokyo", "Sydney", "Toronto", "Dublin", "Amsterdam", "Zürich",
}

// groupKinds are the kinds of groups generated per OU.
var groupKinds = []string{"Team", "Managers", "Readers", "Editors", "Projects", "Distribution"}

// partnerDomains are the mail domains of contacts.
var partnerDomains = []string{"northwind.example", "adventure-works.example", "litware.example", "woodgrove.example", "tailspin.example"}

// DefaultOUs are the organizational units users are spread over when
// GenOptions.OUs is empty; each is also the users' department.
var DefaultOUs = []string{"Sales", "IT", "Finance", "HR", "Engineering", "Marketing", "Operations", "Legal"}

// foldTable maps the non-ASCII letters of the name lists to ASCII.
var foldTable = map[rune]string{
	'á': "a", 'ç': "c", 'è': "e", 'é': "e", 'ë': "e", 'í': "i", 'ñ': "n",
	'ö': "o", 'ø': "o", 'Ø': "o", 'ú': "u", 'ü': "u",
}

// fold turns a name into the lower-case ASCII used in account names and
// mail addresses: letters folded to ASCII, apostrophes and spaces dropped,
// hyphens kept.
func fold(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r + 'a' - 'A')
		default:
			b.WriteString(foldTable[r])
		}
	}
	return b.String()
}
