package config

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
)

// envRef is a whole value of the form ${NAME}: the value is read from the
// environment variable NAME when the block is decoded. Secrets (passwords,
// tokens) are best given this way, so that they stay out of the file.
var envRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)

// expandEnv replaces every string value of v (a pointer to a decoded
// connector configuration) that is a ${NAME} reference with the variable's
// value. An unset variable is an error naming the key and the variable.
func expandEnv(v any) error {
	return expandValue(reflect.ValueOf(v), "")
}

func expandValue(v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return expandValue(v.Elem(), path)
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if name == "" || name == "-" {
				name = f.Name
			}
			if err := expandValue(v.Field(i), join(path, name)); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if err := expandValue(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if v.Type().Elem().Kind() != reflect.String {
			for _, k := range v.MapKeys() {
				e := reflect.New(v.Type().Elem()).Elem()
				e.Set(v.MapIndex(k))
				if err := expandValue(e, join(path, fmt.Sprint(k))); err != nil {
					return err
				}
				v.SetMapIndex(k, e)
			}
			return nil
		}
		for _, k := range v.MapKeys() {
			s, err := lookupRef(v.MapIndex(k).String(), join(path, fmt.Sprint(k)))
			if err != nil {
				return err
			}
			v.SetMapIndex(k, reflect.ValueOf(s).Convert(v.Type().Elem()))
		}
	case reflect.String:
		if !v.CanSet() {
			return nil
		}
		s, err := lookupRef(v.String(), path)
		if err != nil {
			return err
		}
		v.SetString(s)
	}
	return nil
}

func lookupRef(s, path string) (string, error) {
	m := envRef.FindStringSubmatch(s)
	if m == nil {
		return s, nil
	}
	val, ok := os.LookupEnv(m[1])
	if !ok {
		return "", fmt.Errorf("%s: environment variable %s is not set (the value is ${%s})", path, m[1], m[1])
	}
	return val, nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
