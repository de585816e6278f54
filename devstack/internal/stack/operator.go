package stack

// OperatorSecret returns the platform operator client's secret, which the
// onboarding commands use against a running stack.
func (st *Stack) OperatorSecret() string { return st.operatorSecret }
