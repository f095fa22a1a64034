package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/talos-gs/talos/backend/accounts"
	"github.com/talos-gs/talos/backend/auth"
	"github.com/talos-gs/talos/backend/store"
)

// userJSON is a user as the API shows it (never the password hash).
type userJSON struct {
	ID                 string    `json:"id"`
	Email              string    `json:"email"`
	DisplayName        string    `json:"display_name"`
	IsAdmin            bool      `json:"is_admin"`
	MustChangePassword bool      `json:"must_change_password"`
	CreatedAt          time.Time `json:"created_at"`
}

func toUserJSON(u *store.User) userJSON {
	return userJSON{ID: u.ID, Email: u.Email, DisplayName: u.DisplayName, IsAdmin: u.IsAdmin,
		MustChangePassword: u.MustChangePassword, CreatedAt: u.CreatedAt}
}

type createUserRequest struct {
	Email       string `json:"email"`
	DisplayName string `json:"display_name"`
	Password    string `json:"password"`
	IsAdmin     bool   `json:"is_admin"`
}

func (r *createUserRequest) validate() error {
	if err := accounts.ValidateEmail("email", r.Email); err != nil {
		return err
	}
	if err := validText("display_name", r.DisplayName, 0, 100); err != nil {
		return err
	}
	return accounts.ValidatePassword("password", r.Password)
}

func (s *Server) userRoutes() {
	s.userAPI.GET("/users", s.requireAdmin, s.listUsers)
	s.userAPI.POST("/users", s.requireAdmin, s.createUser)
}

func (s *Server) listUsers(c *gin.Context) {
	users, err := s.store.ListUsers(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]userJSON, len(users))
	for i := range users {
		out[i] = toUserJSON(&users[i])
	}
	writeJSON(c, http.StatusOK, gin.H{"users": out})
}

// createUser lets a global administrator add an account (with a password to hand over, which
// the user must change at first login).
func (s *Server) createUser(c *gin.Context) {
	var req createUserRequest
	if !s.bind(c, &req) {
		return
	}
	var u *store.User
	err := s.guard.Run(c.Request.Context(), auth.KindPassword, func() (err error) {
		u, err = accounts.CreateUser(c.Request.Context(), s.store, s.hasher, accounts.NewUser{
			Email: req.Email, DisplayName: req.DisplayName, Password: req.Password, Admin: req.IsAdmin,
			MustChangePassword: true,
		})
		return err
	})
	if err != nil {
		s.fail(c, guardError(c, err))
		return
	}
	setAudit(c, auditInfo{Action: "user.create", ObjectType: "user", ObjectID: u.ID, Detail: u.Email})
	writeJSON(c, http.StatusCreated, toUserJSON(u))
}

// validText checks a free-text field: length in characters within [min, max], valid UTF-8, and
// no control characters.
func validText(field, v string, min, max int) error {
	if !utf8.ValidString(v) {
		return errInvalid(field, "%s must be UTF-8 text", field)
	}
	n := utf8.RuneCountInString(strings.TrimSpace(v))
	if n < min || n > max {
		if min > 0 && n == 0 {
			return errInvalid(field, "%s is required", field)
		}
		return errInvalid(field, "%s must be %d to %d characters", field, min, max)
	}
	if strings.ContainsFunc(v, unicode.IsControl) {
		return errInvalid(field, "%s must not contain control characters", field)
	}
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
