package mapping

// InvalidRowError says why a row cannot become an invitation. Its dead-letter class is
// "invalid_row".
type InvalidRowError struct {
	// Field is the activation's mapping field at fault, e.g. "consumer_email".
	Field string
	// Reason says what is wrong with the field's value, emails masked.
	Reason string
}

// Error returns "mapping.<field>: <reason>", e.g.
// mapping.consumer_email: "b***@example" is not an email address.
func (e *InvalidRowError) Error() string { return "mapping." + e.Field + ": " + e.Reason }

// Class returns the dead-letter error class of an invalid row, "invalid_row".
func (e *InvalidRowError) Class() string { return "invalid_row" }
