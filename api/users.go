package api

// accountRoutes registers the users and companies endpoints.
func (s *Server) accountRoutes(route func(method, path string, h handlerFunc, auth bool)) {}
