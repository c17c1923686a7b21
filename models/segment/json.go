package segment

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// JSON has no NaN: NaN statistics are written as null and read back as NaN.

func nanToNil(v float64) *float64 {
	if math.IsNaN(v) {
		return nil
	}
	return &v
}

func nilToNaN(v *float64) float64 {
	if v == nil {
		return math.NaN()
	}
	return *v
}

// MarshalJSON writes NaN ChurnRate and MeanValue as null.
func (s Segment) MarshalJSON() ([]byte, error) {
	type plain Segment
	return json.Marshal(struct {
		plain
		ChurnRate *float64 `json:"churn_rate"`
		MeanValue *float64 `json:"mean_value"`
	}{plain(s), nanToNil(s.ChurnRate), nanToNil(s.MeanValue)})
}

// UnmarshalJSON reads null ChurnRate and MeanValue as NaN.
func (s *Segment) UnmarshalJSON(b []byte) error {
	type plain Segment
	aux := struct {
		*plain
		ChurnRate *float64 `json:"churn_rate"`
		MeanValue *float64 `json:"mean_value"`
	}{plain: (*plain)(s)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	s.ChurnRate, s.MeanValue = nilToNaN(aux.ChurnRate), nilToNaN(aux.MeanValue)
	return nil
}

// MarshalJSON writes a NaN Silhouette as null.
func (k KScore) MarshalJSON() ([]byte, error) {
	type plain KScore
	return json.Marshal(struct {
		plain
		Silhouette *float64 `json:"silhouette"`
	}{plain(k), nanToNil(k.Silhouette)})
}

// UnmarshalJSON reads a null Silhouette as NaN.
func (k *KScore) UnmarshalJSON(b []byte) error {
	type plain KScore
	aux := struct {
		*plain
		Silhouette *float64 `json:"silhouette"`
	}{plain: (*plain)(k)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	k.Silhouette = nilToNaN(aux.Silhouette)
	return nil
}

// UnmarshalJSON decodes a model, rejecting another FormatVersion and
// segments whose centres do not match the features.
func (m *Model) UnmarshalJSON(b []byte) error {
	type plain Model
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("segment: decode model: %w", err)
	}
	if p.FormatVersion != FormatVersion {
		return fmt.Errorf("segment: decode model: format version %d, want %d", p.FormatVersion, FormatVersion)
	}
	d := len(p.Features)
	for _, ft := range p.Features {
		if !(ft.SD > 0) {
			return fmt.Errorf("segment: decode model: feature %q has sd %v", ft.Name, ft.SD)
		}
	}
	for _, s := range p.Segments {
		if len(s.Z) != d || len(s.Centroid) != d {
			return fmt.Errorf("segment: decode model: segment %d has %d/%d coordinates, want %d", s.ID, len(s.Z), len(s.Centroid), d)
		}
	}
	slices.SortFunc(p.Segments, func(a, b Segment) int { return cmp.Compare(a.ID, b.ID) })
	*m = Model(p)
	return nil
}
