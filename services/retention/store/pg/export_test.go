package pg

// SetHoldInserted sets a function CreateHold runs after its insert and before its commit.
func (s *Store) SetHoldInserted(f func()) { s.holdInserted = f }
